//! Validated 1-based pagination shared by every listing.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Validated 1-based pagination.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// Page number, from 1.
    pub page: usize,
    /// Items per page, 1–100.
    pub page_size: usize,
}

impl Page {
    /// Checks `page >= 1` and `1 <= page_size <= 100` (422 otherwise).
    pub fn new(page: Option<i64>, page_size: Option<i64>) -> Result<Self> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(50);
        if page < 1 {
            return Err(Error::invalid(
                "page",
                format!("page must be at least 1, got {page}"),
            ));
        }
        if !(1..=100).contains(&page_size) {
            return Err(Error::invalid(
                "page_size",
                format!("page_size must be between 1 and 100, got {page_size}"),
            ));
        }
        // Bounded above by the checks, so the casts are lossless.
        Ok(Self {
            page: page as usize,
            page_size: page_size as usize,
        })
    }

    /// The slice of `total` items this page covers (empty past the end).
    pub fn range(&self, total: usize) -> std::ops::Range<usize> {
        let start = (self.page - 1).saturating_mul(self.page_size).min(total);
        start..(start + self.page_size).min(total)
    }

    /// Pagination fields for a response over `total` items.
    pub fn info(&self, total: usize, count: usize) -> PageInfo {
        let total_pages = total.div_ceil(self.page_size).max(1);
        PageInfo {
            count,
            page: self.page,
            page_size: self.page_size,
            total_pages,
            has_next: self.page < total_pages,
            has_previous: self.page > 1,
        }
    }
}

/// Pagination fields shared by every listing response.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct PageInfo {
    /// Items on this page.
    pub count: usize,
    /// This page (from 1).
    pub page: usize,
    /// Items per page.
    pub page_size: usize,
    /// Pages in all (at least 1).
    pub total_pages: usize,
    /// Whether a later page exists.
    pub has_next: bool,
    /// Whether an earlier page exists.
    pub has_previous: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_one_based_and_bounded() {
        assert!(Page::new(Some(0), None).is_err());
        assert!(Page::new(None, Some(0)).is_err());
        assert!(Page::new(None, Some(101)).is_err());
        let page = Page::new(Some(3), Some(10)).unwrap();
        assert_eq!(page.range(25), 20..25);
        assert_eq!(Page::new(Some(9), Some(10)).unwrap().range(25), 25..25);
        let info = page.info(25, 5);
        assert_eq!(
            (info.total_pages, info.has_next, info.has_previous),
            (3, false, true)
        );
        assert_eq!(Page::new(None, None).unwrap().info(0, 0).total_pages, 1);
    }
}
