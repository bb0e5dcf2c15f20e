//! The limits file.

use super::*;

#[test]
fn limits_given_as_an_array_or_without_cpu_time_are_refused() {
    let dir = Scratch::new("limits");
    for (limits, expected) in [
        (
            json!([1048576, 1000, 8, 65536, 1000, 1000, 0, 65536]),
            "a JSON object of limits",
        ),
        (json!({"cpu_millis": 0}), "cpu_millis must be at least 1"),
        (json!({"wall_milis": 1}), "unknown field `wall_milis`"),
    ] {
        let path = dir.json("limits.json", &limits);
        let mut words = os(&["run", "iam-get-user", "--config"]);
        let config = seed_case("config.json");
        let cassette = seed_case("cassette.json");
        words.extend([
            config.as_os_str(),
            OsStr::new("--cassette"),
            cassette.as_os_str(),
            OsStr::new("--limits"),
            path.as_os_str(),
        ]);
        let run = iam_host(&words);
        assert_eq!(run.code, 2, "{limits}: {}", run.stderr);
        assert!(run.stderr.contains(expected), "{limits}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}
