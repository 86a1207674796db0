//! Flyte 2's environment variable for a secret (`flyte.Secret.as_env_var`).

/// A name that is not a valid environment variable name for Flyte 2. The message is Flyte's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid environment variable name: {name}, must match ^[A-Z_][A-Z0-9_]*$")]
pub struct InvalidEnvVarName {
    /// The rejected name.
    pub name: String,
}

/// The environment variable Flyte 2 (`flyte` on PyPI) injects a secret into, as
/// `flyte.Secret(key, group=..., as_env_var=...)` computes it for a secret that is not
/// mounted as a file: `as_env_var` when it is given (and not empty), else `GROUP_KEY` (or
/// `KEY` without a group) with `-` replaced by `_`, upper-cased.
///
/// The name must match `^[A-Z_][A-Z0-9_]*$` the way Python's `re.match` checks it, which also
/// accepts one trailing newline.
///
/// ```
/// use auth_secrets::flyte2_env_var;
///
/// assert_eq!(flyte2_env_var(None, "my-secret", None)?, "MY_SECRET");
/// assert_eq!(flyte2_env_var(Some("team-a"), "api-key", None)?, "TEAM_A_API_KEY");
/// assert_eq!(flyte2_env_var(None, "x", Some("OPENAI_API_KEY"))?, "OPENAI_API_KEY");
/// assert!(flyte2_env_var(None, "api.key", None).is_err());
/// # Ok::<(), auth_secrets::InvalidEnvVarName>(())
/// ```
pub fn flyte2_env_var(
    group: Option<&str>,
    key: &str,
    as_env_var: Option<&str>,
) -> Result<String, InvalidEnvVarName> {
    let name = match as_env_var.filter(|v| !v.is_empty()) {
        Some(name) => name.to_owned(),
        None => {
            let joined = match group.filter(|g| !g.is_empty()) {
                Some(group) => format!("{group}_{key}"),
                None => key.to_owned(),
            };
            joined.replace('-', "_").to_uppercase()
        }
    };
    if python_match_env_var_pattern(&name) {
        Ok(name)
    } else {
        Err(InvalidEnvVarName { name })
    }
}

/// `re.match(r"^[A-Z_][A-Z0-9_]*$", name)`: `$` also matches before a final `\n`.
fn python_match_env_var_pattern(name: &str) -> bool {
    let body = name.strip_suffix('\n').unwrap_or(name);
    let mut chars = body.chars();
    matches!(chars.next(), Some('A'..='Z' | '_'))
        && chars.all(|c| matches!(c, 'A'..='Z' | '0'..='9' | '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_python_re_match() {
        assert!(python_match_env_var_pattern("A_1"));
        assert!(python_match_env_var_pattern("_"));
        assert!(python_match_env_var_pattern("ABC\n"));
        assert!(!python_match_env_var_pattern("ABC\n\n"));
        assert!(!python_match_env_var_pattern(""));
        assert!(!python_match_env_var_pattern("1A"));
        assert!(!python_match_env_var_pattern("a"));
    }
}
