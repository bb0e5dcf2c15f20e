//! Scope and protection (sync.md §5): `protect` globs (`*` any run of characters, `?` one
//! character, ignoring case) matched against a directory user's `userName` and each of its
//! e-mails. A protected user is never changed, deprovisioned, added to or removed from a group.

use super::directory::DirectoryUser;

/// One `protect` glob, lower-cased once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
}

impl Glob {
    pub fn new(text: &str) -> Glob {
        Glob {
            pattern: text.to_lowercase().chars().collect(),
        }
    }

    /// Whether the whole of `text` matches, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.to_lowercase().chars().collect();
        let pattern = &self.pattern;
        // The classic greedy match with one backtrack point (the last `*` seen and where in
        // the text it was tried): at worst pattern × text steps, never exponential.
        let (mut p, mut t) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pattern.get(p) {
                Some('*') => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(&c) if c == '?' || c == text[t] => {
                    p += 1;
                    t += 1;
                }
                _ => match star {
                    Some((star_p, star_t)) => {
                        p = star_p + 1;
                        t = star_t + 1;
                        star = Some((star_p, star_t + 1));
                    }
                    None => return false,
                },
            }
        }
        pattern[p..].iter().all(|&c| c == '*')
    }
}

/// Whether any glob matches the user's `userName` or one of its e-mails.
pub fn is_protected(user: &DirectoryUser, globs: &[Glob]) -> bool {
    globs.iter().any(|glob| {
        user.user_name
            .as_deref()
            .is_some_and(|name| glob.matches(name))
            || user.emails.iter().any(|email| glob.matches(email))
    })
}

/// For each directory user, whether it is protected.
pub fn protected(users: &[DirectoryUser], globs: &[Glob]) -> Vec<bool> {
    users.iter().map(|user| is_protected(user, globs)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_question_mark_match_ignoring_case_and_the_whole_text() {
        let glob = Glob::new("*@Example.COM");
        assert!(glob.matches("alice@example.com"));
        assert!(glob.matches("BOB@EXAMPLE.COM"));
        assert!(glob.matches("@example.com"));
        assert!(!glob.matches("alice@example.com.evil"));
        assert!(!glob.matches("alice@example.org"));
        let glob = Glob::new("admin?@*");
        assert!(glob.matches("admin1@x"));
        assert!(!glob.matches("admin@x"));
        assert!(!glob.matches("admin12@x"));
        assert!(Glob::new("svc-*-bot").matches("SVC-build-ci-bot"));
        assert!(!Glob::new("svc-*-bot").matches("svc-bot"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("exact").matches("EXACT"));
        assert!(!Glob::new("exact").matches("exactly"));
        assert!(Glob::new("é*").matches("Élodie"));
    }

    #[test]
    fn a_glob_with_many_stars_does_not_explode() {
        let glob = Glob::new(&"*a".repeat(30));
        assert!(!glob.matches(&"a".repeat(29)));
        assert!(glob.matches(&"a".repeat(5_000)));
    }

    #[test]
    fn a_user_is_protected_by_its_user_name_or_any_of_its_emails() {
        let user = DirectoryUser {
            id: "1".into(),
            user_name: Some("ceo@corp.example".into()),
            external_id: None,
            active: Some(true),
            emails: vec!["boss@corp.example".into(), "Chief@Home.example".into()],
            primary_email: Some("boss@corp.example".into()),
            resource: "{}".into(),
        };
        assert!(is_protected(&user, &[Glob::new("ceo@*")]));
        assert!(is_protected(
            &user,
            &[Glob::new("nobody"), Glob::new("chief@*")]
        ));
        assert!(!is_protected(&user, &[Glob::new("cfo@*")]));
        assert!(!is_protected(&user, &[]));
    }
}
