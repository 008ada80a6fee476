//! Name comparison that runs at compile time (in the `const` checks of the
//! FFI declarations against the ABI table).

/// `a == b`, usable in constants.
pub(crate) const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && starts_with(a, b)
}

const fn starts_with(text: &[u8], prefix: &[u8]) -> bool {
    if text.len() < prefix.len() {
        return false;
    }
    let mut i = 0;
    while i < prefix.len() {
        if text[i] != prefix[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_equality() {
        assert!(str_eq("hostGetKey", "hostGetKey"));
        assert!(!str_eq("hostGetKey", "hostGetKeY"));
        assert!(!str_eq("a", "ab"));
        assert!(!str_eq("ab", "a"));
        assert!(str_eq("", ""));
    }
}
