//! Median, smallest and largest of several timed runs: what every benchmark reports.

use serde::Serialize;

/// Median, smallest and largest of some runs, and every run as measured.
#[derive(Serialize, Clone, Default)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub all: Vec<f64>,
}

pub fn spread(mut v: Vec<f64>) -> Spread {
    let all = v.clone();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Spread {
        median,
        min: v.first().copied().unwrap_or(0.0),
        max: v.last().copied().unwrap_or(0.0),
        all,
    }
}

pub fn median(v: Vec<f64>) -> f64 {
    spread(v).median
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        let s = spread(vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(s.all, [4.0, 1.0, 3.0, 2.0]);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(Vec::new()), 0.0);
    }
}
