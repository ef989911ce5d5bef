//! What `--db` names: a SQLite file path or a PostgreSQL URL, and how a
//! URL is shown (its password never is).

/// Whether `spec` is a PostgreSQL URL (`postgres://` or `postgresql://`,
/// any case) rather than a SQLite file path.
pub fn is_postgres_url(spec: &str) -> bool {
    let lower = spec.get(..13).unwrap_or(spec).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `spec` as it may be shown in logs and errors: a URL's password (in its
/// user part, and any `password=` query parameter) replaced by `***`; a
/// file path unchanged.
pub fn redact(spec: &str) -> String {
    if !is_postgres_url(spec) {
        return spec.to_owned();
    }
    let Some(scheme_end) = spec.find("://").map(|at| at + 3) else {
        return spec.to_owned();
    };
    let (scheme, rest) = spec.split_at(scheme_end);
    // The authority ends at the first '/', '?' or '#'.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (user_info, host) = authority.split_at(at);
            match user_info.find(':') {
                Some(colon) => format!("{}:***{host}", &user_info[..colon]),
                None => format!("{user_info}{host}"),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.find('?') {
        Some(question) => {
            let (path, query) = tail.split_at(question + 1);
            let query: Vec<String> = query
                .split('&')
                .map(|pair| {
                    let key = pair.split('=').next().unwrap_or_default();
                    if key.eq_ignore_ascii_case("password") {
                        format!("{key}=***")
                    } else {
                        pair.to_owned()
                    }
                })
                .collect();
            format!("{path}{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths() {
        assert!(is_postgres_url("postgres://db/capf"));
        assert!(is_postgres_url("PostgreSQL://db/capf"));
        assert!(!is_postgres_url("/var/lib/capf/capf.db"));
        assert!(!is_postgres_url("postgres.db"));
        assert!(!is_postgres_url(""));
    }

    #[test]
    fn passwords_are_redacted_wherever_they_are() {
        assert_eq!(
            redact("postgres://capf:s3cret@db.example:5432/capf"),
            "postgres://capf:***@db.example:5432/capf"
        );
        assert_eq!(
            redact("postgresql://capf:p@ss:word@db/capf?sslmode=require"),
            "postgresql://capf:***@db/capf?sslmode=require"
        );
        assert_eq!(
            redact("postgres://db/capf?user=capf&password=s3cret&sslmode=require"),
            "postgres://db/capf?user=capf&password=***&sslmode=require"
        );
        assert_eq!(
            redact("postgres://capf@127.0.0.1:5433/postgres"),
            "postgres://capf@127.0.0.1:5433/postgres"
        );
        assert_eq!(redact("/tmp/capf.db"), "/tmp/capf.db");
        assert!(!redact("postgres://u:s3cret@h/d").contains("s3cret"));
    }
}
