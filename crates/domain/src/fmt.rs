//! Numbers as people read them.

/// A whole number with a comma between each group of three digits: 1234567 is
/// `"1,234,567"`, -1204 is `"-1,204"`. Takes any integer type that fits in an `i128`.
pub fn thousands(n: impl Into<i128>) -> String {
    let n: i128 = n.into();
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn groups_of_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1204), "1,204");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(123_456_789u64), "123,456,789");
        assert_eq!(thousands(-1204), "-1,204");
        assert_eq!(thousands(-999), "-999");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(thousands(i64::MIN), "-9,223,372,036,854,775,808");
    }
}
