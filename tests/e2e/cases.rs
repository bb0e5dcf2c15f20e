//! Table-driven end-to-end cases: each folder of `tests/cases/` holds `command.txt`,
//! `config.json`, `args.json` (optional), `cassette.json`, and either `expected.json` (the
//! whole entry, compared with key order; exit 0 or 1 by its Type) or `expected.txt` (an
//! `exit: N` line, then fragments stderr must contain). Replay is strict, so the recorded
//! requests (method, URL and, always, the JSON body) are asserted too.

use serde_json::Value;
use std::path::Path;

use crate::assert_json_eq;
use crate::support::{CliOutput, cases_dir, iam_host};

/// The case's command (command.txt), trimmed.
pub fn case_command(name: &str) -> String {
    std::fs::read_to_string(cases_dir().join(name).join("command.txt"))
        .map(|text| text.trim().to_string())
        .unwrap_or_else(|e| panic!("{name}: command.txt: {e}"))
}

/// The `run` command line of a case folder: its command, config, args (when there are) and
/// cassette. Every host's case runs use it.
pub fn case_args(name: &str) -> Vec<String> {
    let dir = cases_dir().join(name);
    let path = |file: &str| dir.join(file).to_string_lossy().into_owned();
    let mut args = vec![
        "run".to_string(),
        case_command(name),
        "--config".into(),
        path("config.json"),
    ];
    if dir.join("args.json").exists() {
        args.extend(["--args".into(), path("args.json")]);
    }
    args.extend(["--cassette".into(), path("cassette.json")]);
    args
}

/// `iam-host run` on the case folder.
pub fn run_case_cli(name: &str) -> CliOutput {
    let args = case_args(name);
    iam_host(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A case that expects no entry (`expected.txt`): the exit status, and the fragments its
/// stderr must contain.
pub fn expected_failure(name: &str) -> Option<(i32, Vec<String>)> {
    let path = cases_dir().join(name).join("expected.txt");
    if !path.exists() {
        return None;
    }
    let expected =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: expected.txt: {e}"));
    let mut lines = expected.lines();
    let code: i32 = lines
        .next()
        .and_then(|l| l.strip_prefix("exit: "))
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name}: expected.txt must start with 'exit: N'"));
    let fragments = lines
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect();
    Some((code, fragments))
}

fn run_case(name: &str) {
    let dir = cases_dir().join(name);
    let path = |file: &str| dir.join(file);
    check_cassette_records_bodies(name, &path("cassette.json"));
    let output = run_case_cli(name);

    if let Some((code, fragments)) = expected_failure(name) {
        assert_eq!(
            output.code, code,
            "{name}: exit status\nstdout: {}\nstderr: {}",
            output.stdout, output.stderr
        );
        for fragment in &fragments {
            assert!(
                output.stderr.contains(fragment),
                "{name}: stderr lacks {fragment:?}\nstderr: {}",
                output.stderr
            );
        }
        return;
    }
    let expected_text = std::fs::read_to_string(path("expected.json"));
    let actual: Value = serde_json::from_str(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{name}: stdout is not one JSON document ({e})\nexit {}\nstdout: {}\nstderr: {}",
            output.code, output.stdout, output.stderr
        )
    });
    let expected_text = match expected_text {
        Ok(text) => text,
        Err(_) if std::env::var_os("IAM_BLESS").is_some() => {
            let pretty = serde_json::to_string_pretty(&actual).unwrap_or_default() + "\n";
            std::fs::write(path("expected.json"), &pretty)
                .unwrap_or_else(|e| panic!("{name}: cannot bless: {e}"));
            pretty
        }
        Err(e) => {
            panic!("{name}: expected.json: {e} (IAM_BLESS=1 writes it from this run, for review)")
        }
    };
    let expected: Value = serde_json::from_str(&expected_text)
        .unwrap_or_else(|e| panic!("{name}: expected.json is not JSON: {e}"));
    assert_json_eq!(
        actual,
        expected,
        "{name}: the entry differs\nstderr: {}",
        output.stderr
    );
    let expected_code = if expected["Type"] == 4 { 1 } else { 0 };
    assert_eq!(
        output.code, expected_code,
        "{name}: exit status\nstderr: {}",
        output.stderr
    );
}

/// Every recorded request states its body (`null` for none), so bodies are always compared.
fn check_cassette_records_bodies(name: &str, cassette: &Path) {
    let text =
        std::fs::read_to_string(cassette).unwrap_or_else(|e| panic!("{name}: cassette.json: {e}"));
    let cassette: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: cassette.json: {e}"));
    for (index, interaction) in cassette["interactions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        assert!(
            interaction["request"].get("body").is_some(),
            "{name}: interaction {} records no request body",
            index + 1
        );
    }
}

/// Every case folder, by name: `for_each_case!(callback)` hands the whole list to the macro
/// `callback`, so that each module that runs the cases (here, `native.rs`) has one test per
/// folder, and `every_case_folder_has_a_test` checks this one list.
#[macro_export]
macro_rules! for_each_case {
    ($callback:ident) => {
        $callback! {
            bad_config_directory_id_wrong_type,
            bad_config_disable_method,
            bad_config_flag_bad_string,
            bad_config_flag_wrong_type,
            bad_config_missing_token,
            bad_config_missing_url,
            bad_config_unknown_incoming_mapper,
            bad_config_unknown_mapper,
            bad_config_unsupported_transformer,
            bad_config_url_not_http,
            bad_config_url_relative,
            bad_profile_array,
            bad_profile_empty_object,
            bad_profile_missing,
            bad_profile_not_json,
            bad_profile_number,
            create_201_without_body_uses_sent_body,
            create_409_conflict,
            create_allow_enable_false_sends_no_active,
            create_command_disabled,
            create_command_disabled_as_string,
            create_enable_user_disabled_sends_no_active,
            create_found_but_update_disabled,
            create_found_user_is_updated,
            create_full_profile,
            create_lookup_failure_is_a_failed_result,
            create_no_identifier,
            create_post_500_is_not_retried,
            create_post_503_is_retried,
            create_quotes_in_names_survive,
            create_seed_example,
            create_with_custom_mapper,
            create_with_raw_profile_when_mapper_out_is_empty,
            disable_already_disabled_is_skipped,
            disable_command_disabled,
            disable_no_identifier,
            disable_patch_forbidden,
            disable_patch_retried_on_502,
            disable_seed_example_missing_user,
            disable_user_without_active_is_disabled,
            disable_with_delete,
            disable_with_delete_already_gone,
            disable_with_patch,
            disable_with_patch_answered_204,
            get_401_gateway_body,
            get_401_html_body,
            get_500_fails_after_three_retries,
            get_503_retried_after_retry_after,
            get_ambiguous_match_is_refused,
            get_email_filter_400_falls_back_to_username,
            get_empty_200_is_not_found,
            get_found_by_email,
            get_found_by_id,
            get_full_incoming_mapping,
            get_id_is_one_encoded_segment,
            get_inactive_user,
            get_incoming_mapper_disabled_shows_the_user,
            get_mapping_fields_404,
            get_mapping_fields_ok,
            get_no_identifier,
            get_not_found_404_by_id,
            get_not_found_zero_results,
            get_response_not_json,
            get_seed_example,
            get_with_custom_mappers,
            group_bad_create_without_display_name,
            group_bad_delete_without_id,
            group_bad_get_without_id_or_display_name,
            group_bad_member_id_in_both_lists,
            group_bad_member_ids_invalid_json_string,
            group_bad_member_ids_non_string_item,
            group_bad_member_ids_wrong_type,
            group_bad_scim_missing,
            group_bad_scim_not_an_object,
            group_bad_scim_not_json,
            group_bad_too_many_member_ids,
            group_bad_update_without_id,
            group_bad_update_without_member_ids,
            group_create_201,
            group_create_201_without_body_uses_sent_body,
            group_create_409_conflict,
            group_create_503_is_retried,
            group_create_post_500_is_not_retried,
            group_delete_204,
            group_delete_403_is_a_failure,
            group_delete_404_is_not_found,
            group_delete_503_retried_then_404_is_not_found,
            group_get_429_retried_after_retry_after,
            group_get_ambiguous_name_is_refused,
            group_get_by_id,
            group_get_by_id_with_members,
            group_get_by_id_without_members_shows_an_empty_list,
            group_get_by_name,
            group_get_by_name_rereads_a_listed_group_without_members,
            group_get_by_name_with_members,
            group_get_empty_200_by_id_is_not_found,
            group_get_failed_reread_is_a_failure,
            group_get_id_dot_dot_is_a_failed_result,
            group_get_listed_group_with_unusable_id,
            group_get_not_found_404_by_id,
            group_get_not_found_zero_results,
            group_update_250_ids_in_three_requests,
            group_update_429_is_retried,
            group_update_adds_and_removes_in_one_request,
            group_update_fails_on_the_second_request,
            group_update_id_dot_is_a_failed_result,
            group_update_ids_as_a_json_list_in_a_string,
            group_update_ids_comma_separated,
            group_update_patch_404_is_a_failure,
            group_update_removal_ids_are_escaped_in_the_path,
            test_module_401_names_the_status,
            test_module_502_html,
            test_module_ok,
            update_by_id_with_204,
            update_command_disabled,
            update_enable_user_disabled_keeps_the_user_inactive,
            update_falls_back_to_the_new_identifier,
            update_finds_the_user_by_olduserdata,
            update_missing_user_is_created,
            update_missing_user_is_skipped_without_create_if_not_exists,
            update_missing_user_with_create_disabled,
            update_profile_active_false_is_sent,
            update_put_409,
            update_reenables_an_inactive_user,
            update_seed_example,
            update_user_with_unknown_active_sends_none,
            update_without_allow_enable_keeps_the_user_inactive,
        }
    };
}

macro_rules! replay_tests {
    ($($name:ident,)*) => {
        $(
            #[test]
            fn $name() {
                run_case(stringify!($name));
            }
        )*
        const CASES: &[&str] = &[$(stringify!($name)),*];
    };
}

crate::for_each_case!(replay_tests);

/// A case folder missing from `for_each_case!` would silently never run.
#[test]
fn every_case_folder_has_a_test() {
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(cases_dir())
        .expect("tests/cases exists")
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !CASES.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "case folders missing from for_each_case!: {missing:?}"
    );
}
