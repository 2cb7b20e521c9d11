//! Paging through a long list: how many records at most, and how many to skip.

/// The fewest records a page asks for.
pub const PAGE_MIN: i64 = 1;
/// The most records a page asks for.
pub const PAGE_MAX: i64 = 500;
/// The records a page holds when the caller does not say.
pub const PAGE_DEFAULT: i64 = 50;

/// One page of a list: at most `limit` records after skipping `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// At most this many records, [`PAGE_MIN`] to [`PAGE_MAX`].
    pub limit: i64,
    /// Skip this many, zero or more.
    pub offset: i64,
}

impl Page {
    /// A page with `limit` brought into [`PAGE_MIN`]..=[`PAGE_MAX`] and a negative `offset`
    /// read as zero.
    pub fn new(limit: i64, offset: i64) -> Self {
        Self {
            limit: limit.clamp(PAGE_MIN, PAGE_MAX),
            offset: offset.max(0),
        }
    }

    /// A page exactly as asked, or none when `limit` or `offset` is out of range (for an
    /// interface that tells the caller rather than correcting them).
    pub fn exact(limit: i64, offset: i64) -> Option<Self> {
        ((PAGE_MIN..=PAGE_MAX).contains(&limit) && offset >= 0).then_some(Self { limit, offset })
    }
}

impl Default for Page {
    /// The first [`PAGE_DEFAULT`] records.
    fn default() -> Self {
        Self {
            limit: PAGE_DEFAULT,
            offset: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_clamps_into_range() {
        assert_eq!(
            Page::new(0, -5),
            Page {
                limit: 1,
                offset: 0
            }
        );
        assert_eq!(
            Page::new(501, 7),
            Page {
                limit: 500,
                offset: 7
            }
        );
        assert_eq!(
            Page::new(20, 40),
            Page {
                limit: 20,
                offset: 40
            }
        );
        assert_eq!(
            Page::new(i64::MIN, i64::MIN),
            Page {
                limit: 1,
                offset: 0
            }
        );
    }

    #[test]
    fn exact_refuses_what_new_would_correct() {
        assert_eq!(
            Page::exact(1, 0),
            Some(Page {
                limit: 1,
                offset: 0
            })
        );
        assert_eq!(
            Page::exact(500, 3),
            Some(Page {
                limit: 500,
                offset: 3
            })
        );
        assert_eq!(Page::exact(0, 0), None);
        assert_eq!(Page::exact(501, 0), None);
        assert_eq!(Page::exact(10, -1), None);
        assert_eq!(
            Page::default(),
            Page {
                limit: 50,
                offset: 0
            }
        );
    }
}
