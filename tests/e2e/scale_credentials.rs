//! How `worker` and `submit` prove who they are to a real `nats-server` (issue 23): a token
//! from a file or the environment, TLS with a CA and a client certificate the server verifies,
//! `.creds` files under an operator (NATS's decentralized JWT authentication) and a broken
//! one's handling; a wrong credential and a subject the user may not publish to each end in
//! exit 2 with one line, and no secret is in argv or in any output.
//!
//! Everything binds 127.0.0.1, every process is stopped by PID, the loads are a job or two.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::{Duration, Instant};

use crate::scale::{
    NatsServer, RUN_TIMEOUT, create_job, pulling_worker, pulling_worker_with, read, results_by_id,
    start_iam_host, start_iam_host_with, stop_worker, tenants_file, users_named, write_lines,
};
use crate::scale_customers::{
    Permissions, customer_permissions, nats_with_users, worker_permissions,
};
use crate::scim_server::ScimServer;
use crate::support::scratch::Scratch;

/// Well within the 30 s submit gives a server to answer at all: an ending that is "prompt".
const PROMPTLY: Duration = Duration::from_secs(20);

/// Start `iam-host submit` of `jobs` with `more` arguments and `environment`.
fn submit(
    scratch: &Scratch,
    url: &str,
    jobs: &[String],
    more: &[&str],
    environment: &[(&str, &str)],
) -> (crate::scale::Running, PathBuf) {
    let input = scratch.path("jobs.jsonl");
    write_lines(&input, jobs);
    let output = scratch.path("results.jsonl");
    let (input_text, output_text) = (input.to_string_lossy(), output.to_string_lossy());
    let mut args = vec![
        "submit",
        "--nats",
        url,
        "--input",
        &input_text,
        "--output",
        &output_text,
    ];
    args.extend_from_slice(more);
    let running = start_iam_host_with(scratch, "submit", &args, environment, false);
    (running, output)
}

/// The non-empty lines of a process's stderr.
fn lines_of(path: &Path) -> Vec<String> {
    read(path)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// `secret` is in no file of the scratch directory (outputs, logs, results) but `besides`.
fn nowhere(scratch: &Scratch, secret: &str, besides: &[&Path]) {
    for entry in std::fs::read_dir(scratch.path("")).expect("the scratch directory") {
        let path = entry.expect("an entry").path();
        if !path.is_file() || besides.contains(&path.as_path()) {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        assert!(
            !crate::scale::contains(&bytes, secret),
            "the secret is in {}",
            path.display()
        );
    }
}

fn argv_of(pid: u32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', " "))
        .unwrap_or_default()
}

/// A customer's NATS user as README gives it (its own jobs, its own results' consumer, its
/// own inbox), and a user that may read any results but publish only acme's jobs.
fn permissions(publish_jobs_of: &str, read_results_of: &[&str]) -> String {
    let inboxes: Vec<String> = read_results_of
        .iter()
        .map(|tenant| format!("\"_INBOX_{tenant}.>\""))
        .collect();
    let results = if read_results_of.len() > 1 {
        "*".to_string()
    } else {
        read_results_of[0].to_string()
    };
    format!(
        r#"{{ publish: ["iam.jobs.{publish_jobs_of}", "$JS.API.CONSUMER.CREATE.IAM_RESULTS.*.iam.results.{results}", "$JS.API.CONSUMER.MSG.NEXT.IAM_RESULTS.*"], subscribe: [{}] }}"#,
        inboxes.join(", ")
    )
}

#[test]
fn a_submitter_not_permitted_another_tenants_subjects_ends_at_once_with_one_line() {
    let scratch = Scratch::new("refused-subject");
    let scim = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("acme", &scim), ("globex", &scim)]);
    // The worker makes the streams, so only the permissions stand in a submitter's way.
    let (nats, worker) = nats_with_users(
        &scratch,
        &tenants,
        &[
            ("acme", "acme-pw-1", permissions("acme", &["acme"])),
            (
                "reader",
                "reader-pw-3",
                permissions("acme", &["acme", "globex"]),
            ),
        ],
    );
    let globex_job = vec![create_job("g-1", "globex", 1)];

    // acme's user, as README gives it, for a file of globex's: it may not even read the
    // replies under globex's inbox. Before the fix, submit retried this for ever.
    for (user, password, expected) in [
        (
            "acme",
            "acme-pw-1",
            "does not let this user read the results of the tenant \"globex\"",
        ),
        // A user that may read globex's results but publish only acme's jobs.
        (
            "reader",
            "reader-pw-3",
            "does not let this user submit jobs for the tenant \"globex\"",
        ),
    ] {
        let started = Instant::now();
        let (mut running, output) = submit(
            &scratch,
            &nats.url,
            &globex_job,
            &["--nats-user", user],
            &[("IAM_NATS_PASSWORD", password)],
        );
        let status = running.wait(RUN_TIMEOUT);
        let stderr = read(&scratch.path("submit.err"));
        assert_eq!(status.code(), Some(2), "{user}: {stderr}");
        assert!(
            started.elapsed() < PROMPTLY,
            "{user}: ended after {:?}: {stderr}",
            started.elapsed()
        );
        let last = lines_of(&scratch.path("submit.err"))
            .pop()
            .unwrap_or_default();
        assert!(last.contains(expected), "{user}: {stderr}");
        assert!(last.contains("Permissions Violation"), "{user}: {stderr}");
        assert!(!stderr.contains(password), "{user}'s password in: {stderr}");
        assert_eq!(
            read(&output),
            "",
            "{user}: no result for a job that never ran"
        );
    }
    assert_eq!(scim.user_count(), 0, "globex's job never ran");
    stop_worker(&scratch, worker);
}

#[test]
fn a_token_from_a_file_or_the_environment_and_a_wrong_one_ends_with_one_line() {
    let scratch = Scratch::new("token");
    let scim = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("acme", &scim)]);
    let token = "tok-7Qz1-never-shown";
    let nats = NatsServer::start_with(
        &scratch,
        Some(&format!("authorization {{ token: \"{token}\" }}\n")),
    );
    // The worker's token from the environment (IAM_NATS_TOKEN), submit's from a file.
    let worker = pulling_worker_with(
        &scratch,
        &nats.url,
        &tenants,
        &[],
        &[("IAM_NATS_TOKEN", token)],
    );
    assert!(!argv_of(worker.pid()).contains(token));
    let token_file = scratch.path("nats.token");
    std::fs::write(&token_file, format!("{token}\n")).expect("write the token");
    let token_path = token_file.to_string_lossy().into_owned();
    let (mut running, output) = submit(
        &scratch,
        &nats.url,
        &[create_job("a-1", "acme", 1)],
        &["--nats-token-file", &token_path],
        &[],
    );
    assert!(
        running.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    let results = results_by_id(&output);
    assert_eq!(results["a-1"]["exit"], json!(0), "{results:?}");
    assert_eq!(users_named(&scim, "acme-user-1@example.com"), 1);

    // A wrong token: exit 2, one line, at once (no 30 s of retries), the token in it nowhere.
    let wrong = "tok-wrong-9Xy2-never-shown";
    let wrong_file = scratch.path("wrong.token");
    std::fs::write(&wrong_file, wrong).expect("write the wrong token");
    let wrong_path = wrong_file.to_string_lossy().into_owned();
    for (more, environment) in [
        (vec!["--nats-token-file", wrong_path.as_str()], vec![]),
        (vec![], vec![("IAM_NATS_TOKEN", wrong)]),
    ] {
        let started = Instant::now();
        let (mut running, _) = submit(
            &scratch,
            &nats.url,
            &[create_job("a-2", "acme", 2)],
            &more,
            &environment,
        );
        let status = running.wait(RUN_TIMEOUT);
        let lines = lines_of(&scratch.path("submit.err"));
        assert_eq!(status.code(), Some(2), "{lines:?}");
        assert!(started.elapsed() < PROMPTLY, "{:?}", started.elapsed());
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("refused a token"), "{lines:?}");
    }
    stop_worker(&scratch, worker);
    nowhere(
        &scratch,
        token,
        &[&token_file, &scratch.path("nats-server.conf")],
    );
    nowhere(&scratch, wrong, &[&wrong_file]);
}

/// `openssl` with `args` in `dir`, which must succeed.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Process::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a certificate of 127.0.0.1 for the server and one for a client, signed by the CA;
/// and a second CA's client certificate the server must refuse.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["ca", "other-ca"] {
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        let (key, pem, subject) = (
            format!("{ca}.key"),
            format!("{ca}.pem"),
            format!("/CN=iam-host test {ca}"),
        );
        args.extend([
            "-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subject,
        ]);
        openssl(dir, &args);
    }
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\n").expect("ext");
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    for (name, ca) in [("server", "ca"), ("client", "ca"), ("stranger", "other-ca")] {
        let mut args = vec!["req"];
        args.extend(ec);
        let (key, csr, subject) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("/CN={name}"),
        );
        args.extend(["-keyout", &key, "-out", &csr, "-subj", &subject]);
        openssl(dir, &args);
        let ext = if name == "server" {
            "server.ext"
        } else {
            "client.ext"
        };
        let (ca_pem, ca_key, pem) = (
            format!("{ca}.pem"),
            format!("{ca}.key"),
            format!("{name}.pem"),
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_pem,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                ext,
            ],
        );
    }
}

#[test]
fn tls_with_a_ca_and_a_client_certificate_the_server_verifies() {
    if Process::new("openssl").arg("version").output().is_err() {
        panic!("this test makes its certificates with the openssl command, which is missing");
    }
    let scratch = Scratch::new("tls");
    let dir = scratch.path("");
    certificates(&dir);
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let scim = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("acme", &scim)]);
    let config = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true, timeout: 2 }}\n",
        p("server.pem"),
        p("server.key"),
        p("ca.pem"),
    );
    let nats = NatsServer::start_with(&scratch, Some(&config));
    let (ca, cert, key) = (p("ca.pem"), p("client.pem"), p("client.key"));
    let tls = [
        "--nats-ca",
        ca.as_str(),
        "--nats-cert",
        cert.as_str(),
        "--nats-key",
        key.as_str(),
    ];
    let worker = pulling_worker(&scratch, &nats.url, &tenants, &tls);
    let (mut running, output) = submit(
        &scratch,
        &nats.url,
        &[create_job("t-1", "acme", 1)],
        &tls,
        &[],
    );
    assert!(
        running.wait(RUN_TIMEOUT).success(),
        "{}",
        read(&scratch.path("submit.err"))
    );
    assert_eq!(results_by_id(&output)["t-1"]["exit"], json!(0));
    assert_eq!(users_named(&scim, "acme-user-1@example.com"), 1);

    // A client certificate of another CA, and none at all: the server refuses the handshake;
    // and a CA that did not sign the server's certificate: the client refuses it. Each is
    // refused again on every try, so submit and worker end at once (not after the 30 s a
    // server has to answer) with one line, exit 2.
    let (stranger, stranger_key, other_ca) =
        (p("stranger.pem"), p("stranger.key"), p("other-ca.pem"));
    let refusals: [(&[&str], &str); 3] = [
        (
            &[
                "--nats-ca",
                ca.as_str(),
                "--nats-cert",
                stranger.as_str(),
                "--nats-key",
                stranger_key.as_str(),
            ],
            "the server refused the handshake",
        ),
        (
            &["--nats-ca", ca.as_str()],
            "the server refused the handshake",
        ),
        (
            &[
                "--nats-ca",
                other_ca.as_str(),
                "--nats-cert",
                cert.as_str(),
                "--nats-key",
                key.as_str(),
            ],
            "the server's certificate is not accepted",
        ),
    ];
    for (refused, why) in refusals {
        let started = Instant::now();
        let (mut running, _) = submit(
            &scratch,
            &nats.url,
            &[create_job("t-2", "acme", 2)],
            refused,
            &[],
        );
        let status = running.wait(RUN_TIMEOUT);
        let took = started.elapsed();
        let lines = lines_of(&scratch.path("submit.err"));
        assert_eq!(status.code(), Some(2), "{refused:?}: {lines:?}");
        assert_eq!(lines.len(), 1, "{refused:?}: {lines:?}");
        assert!(
            lines[0].contains("the TLS handshake with the NATS server at")
                && lines[0].contains(why),
            "{refused:?}: {lines:?}"
        );
        assert!(took < PROMPTLY, "{refused:?}: submit took {took:?}");
    }
    // A worker alike.
    let tenants_text = tenants.to_string_lossy();
    let mut args = vec!["worker", "--nats", &nats.url, "--tenants", &tenants_text];
    args.extend_from_slice(refusals[0].0);
    let started = Instant::now();
    let mut refused_worker = start_iam_host(&scratch, "refused-worker", &args, true);
    let status = refused_worker.wait(RUN_TIMEOUT);
    let took = started.elapsed();
    let lines = lines_of(&scratch.path("refused-worker.err"));
    assert_eq!(status.code(), Some(2), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("the server refused the handshake"),
        "{lines:?}"
    );
    assert!(took < PROMPTLY, "the worker took {took:?}");
    assert_eq!(scim.user_count(), 1, "t-2 never ran");
    let private_key = std::fs::read_to_string(dir.join("client.key")).expect("the key");
    let key_body = private_key
        .lines()
        .find(|line| !line.starts_with("-----"))
        .expect("a key line");
    stop_worker(&scratch, worker);
    nowhere(&scratch, key_body, &[&dir.join("client.key")]);
}

#[test]
fn a_creds_file_is_read_from_its_file_and_a_broken_one_is_one_line_without_its_content() {
    // Its handling: read from the file, its content never shown, a broken one refused before
    // anything is connected. (Connecting with good ones: the operator test below.)
    let scratch = Scratch::new("creds");
    let nats = NatsServer::start(&scratch);
    let seed = nkeys::KeyPair::new_user().seed().expect("a seed");
    let broken = scratch.path("broken.creds");
    std::fs::write(
        &broken,
        // Its JWT block lost: only the seed's is left.
        format!("-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"),
    )
    .expect("write the creds");
    let empty = scratch.path("empty.creds");
    std::fs::write(&empty, "\n").expect("write the creds");
    let missing = scratch.path("missing.creds");
    for (file, expected) in [
        (&broken, "not a valid .creds file"),
        (&empty, "is empty"),
        (&missing, "missing.creds"),
    ] {
        let path = file.to_string_lossy().into_owned();
        let started = Instant::now();
        let (mut running, _) = submit(
            &scratch,
            &nats.url,
            &[create_job("c-1", "acme", 1)],
            &["--nats-creds", &path],
            &[],
        );
        let status = running.wait(RUN_TIMEOUT);
        let lines = lines_of(&scratch.path("submit.err"));
        assert_eq!(status.code(), Some(2), "{lines:?}");
        assert!(started.elapsed() < PROMPTLY);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains(expected), "{lines:?}");
    }
    nowhere(&scratch, &seed, &[&broken]);
}

/// NATS's decentralized authentication, made for the tests: an operator, one account with
/// JetStream that it signs, and users the account signs, each written as a `.creds` file. The
/// JWTs are nats-io/jwt's v2 format, `base64url(header).base64url(claims).base64url(signature)`
/// with the issuer's nkey signing; no maintained Rust crate writes an account with JetStream
/// limits (nats-jwt 0.3 has none), so the few lines are here, and nkeys signs.
struct Operator {
    key: nkeys::KeyPair,
    account: nkeys::KeyPair,
    /// The server's own account (JetStream needs one under an operator).
    system: nkeys::KeyPair,
}

impl Operator {
    fn new() -> Operator {
        Operator {
            key: nkeys::KeyPair::new_operator(),
            account: nkeys::KeyPair::new_account(),
            system: nkeys::KeyPair::new_account(),
        }
    }

    /// The JWT of `claims` about `subject`, signed by `issuer`.
    fn jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
        use data_encoding::BASE64URL_NOPAD;
        let issued = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let claims = json!({"jti": format!("{name}-{issued}"), "iat": issued,
            "iss": issuer.public_key(), "sub": subject, "name": name, "nats": nats});
        let signed = format!(
            "{}.{}",
            BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#),
            BASE64URL_NOPAD.encode(claims.to_string().as_bytes())
        );
        let signature = issuer.sign(signed.as_bytes()).expect("sign the JWT");
        format!("{signed}.{}", BASE64URL_NOPAD.encode(&signature))
    }

    /// A `nats-server` config trusting this operator, its account preloaded.
    fn server_config(&self) -> String {
        let operator = Operator::jwt(
            &self.key,
            &self.key.public_key(),
            "test-operator",
            json!({"type": "operator", "version": 2}),
        );
        let unlimited = json!({"subs": -1, "data": -1, "payload": -1, "imports": -1,
            "exports": -1, "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1});
        let account = Operator::jwt(
            &self.key,
            &self.account.public_key(),
            "customers",
            json!({"type": "account", "version": 2, "limits": unlimited}),
        );
        let system = Operator::jwt(
            &self.key,
            &self.system.public_key(),
            "system",
            json!({"type": "account", "version": 2}),
        );
        format!(
            "operator: \"{operator}\"\nsystem_account: {system_key}\nresolver: MEMORY\nresolver_preload: {{\n  {}: \"{account}\"\n  {system_key}: \"{system}\"\n}}\n",
            self.account.public_key(),
            system_key = self.system.public_key()
        )
    }

    /// A `.creds` file for a new user `name` with `permissions`, signed by `signer` (the
    /// account, or a key the server does not know); the user's seed is returned too.
    fn creds(
        signer: &nkeys::KeyPair,
        account: &str,
        scratch: &Scratch,
        name: &str,
        permissions: &Permissions,
    ) -> (String, String) {
        let user = nkeys::KeyPair::new_user();
        let jwt = Operator::jwt(
            signer,
            &user.public_key(),
            name,
            json!({"type": "user", "version": 2, "issuer_account": account,
                "pub": {"allow": permissions.publish}, "sub": {"allow": permissions.subscribe},
                "subs": -1, "data": -1, "payload": -1}),
        );
        let seed = user.seed().expect("a seed");
        let path = scratch.path(&format!("{name}.creds"));
        std::fs::write(
            &path,
            format!("-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"),
        )
        .expect("write the creds");
        (path.to_string_lossy().into_owned(), seed)
    }
}

#[test]
fn creds_files_connect_under_an_operator_and_their_jwts_permissions_hold() {
    let scratch = Scratch::new("operator");
    let scim = ScimServer::start();
    let tenants = tenants_file(&scratch, &[("acme", &scim), ("globex", &scim)]);
    let operator = Operator::new();
    let nats = NatsServer::start_with(&scratch, Some(&operator.server_config()));
    let account = operator.account.public_key();
    let user = |signer: &nkeys::KeyPair, name: &str, permissions: &Permissions| {
        Operator::creds(signer, &account, &scratch, name, permissions)
    };
    let (worker_creds, worker_seed) = user(&operator.account, "worker", &worker_permissions());
    let (acme_creds, acme_seed) = user(&operator.account, "acme", &customer_permissions("acme"));
    // A user JWT that an account key the server never trusted signed.
    let stranger = nkeys::KeyPair::new_account();
    let (forged_creds, forged_seed) = user(&stranger, "forged", &customer_permissions("acme"));

    let worker = pulling_worker(
        &scratch,
        &nats.url,
        &tenants,
        &["--nats-creds", &worker_creds],
    );
    // acme's job runs, under the JWTs' permissions alone (the worker's make the streams).
    let (mut running, output) = submit(
        &scratch,
        &nats.url,
        &[create_job("a-1", "acme", 1)],
        &["--nats-creds", &acme_creds],
        &[],
    );
    let status = running.wait(RUN_TIMEOUT);
    let stderr = read(&scratch.path("submit.err"));
    assert_eq!(status.code(), Some(0), "{stderr}");
    let results = results_by_id(&output);
    assert_eq!(results["a-1"]["exit"], 0, "{results:?}");
    assert_eq!(users_named(&scim, "acme-user-1@example.com"), 1);

    // acme's JWT does not let it submit globex's jobs; a JWT no trusted account signed does
    // not connect. Each ends at once with one line.
    for (creds, job, expected) in [
        (
            &acme_creds,
            create_job("g-1", "globex", 1),
            "does not let this user read the results of the tenant \"globex\"",
        ),
        (
            &forged_creds,
            create_job("a-2", "acme", 2),
            "Authorization Violation",
        ),
    ] {
        let started = Instant::now();
        let (mut running, _) = submit(&scratch, &nats.url, &[job], &["--nats-creds", creds], &[]);
        let status = running.wait(RUN_TIMEOUT);
        let lines = lines_of(&scratch.path("submit.err"));
        assert_eq!(status.code(), Some(2), "{creds}: {lines:?}");
        assert!(started.elapsed() < PROMPTLY, "{creds}: {lines:?}");
        let last = lines.last().cloned().unwrap_or_default();
        assert!(
            last.to_lowercase().contains(&expected.to_lowercase()),
            "{creds}: {lines:?}"
        );
    }
    assert_eq!(users_named(&scim, "globex-user-1@example.com"), 0);
    assert_eq!(users_named(&scim, "acme-user-2@example.com"), 0);
    let worker_argv = argv_of(worker.pid());
    assert!(worker_argv.contains("--nats-creds"), "{worker_argv}");
    stop_worker(&scratch, worker);
    let creds_files = [&worker_creds, &acme_creds, &forged_creds].map(PathBuf::from);
    let besides: Vec<&Path> = creds_files.iter().map(PathBuf::as_path).collect();
    for seed in [&worker_seed, &acme_seed, &forged_seed] {
        nowhere(&scratch, seed, &besides);
        assert!(!worker_argv.contains(seed.as_str()));
    }
}
