//! Issue 22: the XSOAR content pack (host-test/xsoar/Packs/AtlassianIAMWasm), checked with
//! XSOAR's own tools, offline (demisto-sdk 1.39.13 from host-test/xsoar/sdk-venv.sh, which
//! `.ci/run` installs first): `demisto-sdk validate` reports nothing but DO101 (the image is not
//! a demisto/ one, as the pack's README explains) and `xsoar-lint` scores 10/10
//! (host-test/xsoar/check.sh); and host-test/xsoar/build.sh makes the released artifacts: the
//! unified yml carrying the Python host and the component, and the pack zip with the mappers.

use std::process::Command;

use iam_host_cli::artifact;

use crate::support::gated_component;
use crate::support::scratch::Scratch;

fn script(name: &str) -> std::path::PathBuf {
    artifact::workspace_root()
        .join("host-test/xsoar")
        .join(name)
}

#[test]
fn xsoar_validate_reports_only_do101_and_xsoar_lint_scores_ten() {
    let out = Command::new("bash")
        .arg(script("check.sh"))
        .output()
        .expect("run host-test/xsoar/check.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check.sh failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("errors were thrown as a part of this pr: DO101."),
        "{stdout}"
    );
    assert!(stdout.contains("rated at 10.00/10"), "{stdout}");
}

#[test]
fn xsoar_build_makes_the_unified_yml_and_the_pack_zip() {
    let scratch = Scratch::new("xsoar-build");
    let out_dir = scratch.path("xsoar");
    let out = Command::new("bash")
        .arg(script("build.sh"))
        .arg(&out_dir)
        .env("IAM_GATED_COMPONENT", gated_component())
        .output()
        .expect("run host-test/xsoar/build.sh");
    assert!(
        out.status.success(),
        "build.sh failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let unified = std::fs::read_to_string(out_dir.join("integration-AtlassianIAMWasm.yml"))
        .expect("the unified yml");
    // Its own id and name, never the Marketplace integration's.
    assert!(unified.contains("  id: Atlassian IAM WebAssembly\n"));
    assert!(!unified.contains("  id: Atlassian IAM\n"));
    // Script, image and description inlined.
    assert!(unified.contains("image: data:image/png;base64,"));
    assert!(unified.contains("detaileddescription:"));
    assert!(unified.contains("def main():"));
    // The script carries the Python host and the component: a bundle, not the empty one.
    assert!(!unified.contains("IAM_HOST_BUNDLE = ''"));
    let bundle_at = unified
        .find("IAM_HOST_BUNDLE = '")
        .expect("the bundle line");
    assert!(
        unified[bundle_at..].len() > 100_000,
        "the bundle is too small to hold the component"
    );
    assert!(out_dir.join("AtlassianIAMWasm.zip").is_file());
    for file in [
        "Dockerfile",
        "prepare_cache.py",
        "atlassian_iam_gated.wasm",
        "AtlassianIAMWasm.py",
    ] {
        assert!(out_dir.join("docker").join(file).is_file(), "docker/{file}");
    }
    assert_eq!(
        std::fs::read(out_dir.join("docker/atlassian_iam_gated.wasm")).unwrap(),
        std::fs::read(gated_component()).unwrap()
    );
}
