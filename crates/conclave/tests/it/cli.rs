//! The admin CLI: help, creating things, and refusing bad input.

use crate::{conclave, ok, run, stderr, stdout, PASSWORD};

#[test]
fn help_explains_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let top = ok(
        {
            let mut c = conclave(dir.path());
            c.arg("--help");
            c
        },
        "",
    );
    for command in ["serve", "admin", "audit", "keys", "default-config", "--data-dir", "--database-url", "--config"] {
        assert!(top.contains(command), "{command} missing from --help:\n{top}");
    }
    let admin = ok(
        {
            let mut c = conclave(dir.path());
            c.args(["admin", "--help"]);
            c
        },
        "",
    );
    for command in ["create-enterprise", "create-user", "create-team", "add-team-member", "list-users"] {
        assert!(admin.contains(command), "{command} missing:\n{admin}");
    }
    let sample = ok(
        {
            let mut c = conclave(dir.path());
            c.arg("default-config");
            c
        },
        "",
    );
    assert!(sample.contains("listen = \"127.0.0.1:8443\""));
}

#[test]
fn admins_create_enterprises_users_and_teams() {
    let dir = tempfile::tempdir().unwrap();
    let e = crate::seed(dir.path(), &[], ("Acme", "Admin@Acme.example", "Ada Admin", "Platform"));
    let listed = ok(
        {
            let mut c = conclave(dir.path());
            c.args(["admin", "list-users", "--enterprise", &e]);
            c
        },
        "",
    );
    assert!(
        listed.contains("admin@acme.example") && listed.contains("enterprise-admin") && listed.contains("Ada Admin"),
        "{listed}"
    );
    let enterprises = ok(
        {
            let mut c = conclave(dir.path());
            c.args(["admin", "list-enterprises"]);
            c
        },
        "",
    );
    assert!(enterprises.contains(&e) && enterprises.contains("Acme"));
}

fn as_refs(a: &[String; 10]) -> Vec<&str> {
    a.iter().map(String::as_str).collect()
}

#[test]
fn bad_admin_input_is_refused_with_a_reason_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let e = crate::seed(dir.path(), &[], ("Acme", "admin@acme.example", "Ada", "T"));
    let attempt = |args: &[&str], stdin: &str, words: &str| {
        let mut c = conclave(dir.path());
        c.args(args);
        let o = run(c, stdin);
        assert!(!o.status.success(), "{args:?} should fail");
        assert!(stderr(&o).contains(words), "{args:?}: expected {words:?} in {}", stderr(&o));
    };
    let user = |email: &str, name: &str, role: &str| {
        ["admin", "create-user", "--enterprise", &e, "--email", email, "--name", name, "--role", role]
            .map(str::to_owned)
    };
    attempt(&as_refs(&user("bad-email", "N", "member")), &format!("{PASSWORD}\n"), "email");
    attempt(&as_refs(&user("admin@acme.example", "N", "member")), &format!("{PASSWORD}\n"), "already exists");
    attempt(&as_refs(&user("n@acme.example", "N", "owner")), &format!("{PASSWORD}\n"), "--role");
    attempt(&as_refs(&user("n@acme.example", "N", "security,owner")), &format!("{PASSWORD}\n"), "--role");
    attempt(&as_refs(&user("n@acme.example", "N", "security,")), &format!("{PASSWORD}\n"), "--role");
    attempt(&as_refs(&user("n@acme.example", "N", "member")), "", "no password");
    attempt(&as_refs(&user("n@acme.example", "N", "member")), "short\n", "at least 8");
    attempt(&as_refs(&user("n@acme.example", " ", "member")), &format!("{PASSWORD}\n"), "name");
    attempt(&["admin", "create-team", "--enterprise", "nope", "--name", "T"], "", "not an enterprise id");
    attempt(
        &["admin", "create-team", "--enterprise", "00000000-0000-0000-0000-000000000000", "--name", "T"],
        "",
        "not found",
    );
    attempt(&["admin", "create-enterprise", "--name", ""], "", "name");
    let mut c = conclave(dir.path());
    c.args(["admin", "list-users", "--enterprise", &e]);
    assert_eq!(stdout(&run(c, "")).lines().count(), 1, "only the seeded admin exists");
    // Several roles at once, in any order, listed in a fixed one.
    let mut c = conclave(dir.path());
    c.args(as_refs(&user("both@acme.example", "Both", "security,enterprise-admin")));
    assert!(run(c, &format!("{PASSWORD}\n")).status.success());
    let mut c = conclave(dir.path());
    c.args(["admin", "list-users", "--enterprise", &e]);
    let listed = stdout(&run(c, ""));
    assert!(listed.lines().any(|l| l.contains("\tenterprise-admin,security\t")), "{listed}");
}
