//! Dates as administrators type them: RFC 3339 (`2027-01-31T18:00:00Z`,
//! `2027-01-31T19:00:00+01:00`) or a plain date (`2027-01-31`, midnight
//! UTC). One parser for every host (`--complete-by`, `--expiring-before`).

/// Unix seconds of an RFC 3339 date-time or a plain date (midnight UTC).
/// The error names what is wrong, with the text.
pub fn parse_date(text: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{text:?} is not a date: use RFC 3339 (2027-01-31T18:00:00Z) or a plain date (2027-01-31)"
        )
    };
    let bytes = text.as_bytes();
    if bytes.len() < 10 || !text.is_ascii() {
        return Err(bad());
    }
    let number = |range: core::ops::Range<usize>| -> Result<i64, String> {
        let part = text.get(range).ok_or_else(bad)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse().map_err(|_| bad())
    };
    if bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(bad());
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(bad());
    }
    let mut seconds = days_from_civil(year, month, day) * 86_400;
    if bytes.len() > 10 {
        // THH:MM:SS[.fraction](Z|±HH:MM)
        if !matches!(bytes[10], b'T' | b't' | b' ') || bytes.len() < 20 {
            return Err(bad());
        }
        if bytes[13] != b':' || bytes[16] != b':' {
            return Err(bad());
        }
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if hour > 23 || minute > 59 || second > 60 {
            return Err(bad());
        }
        let mut rest = &text[19..];
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            rest = &fraction[digits..];
        }
        let offset = match rest {
            "Z" | "z" => 0,
            _ => {
                let sign = match rest.as_bytes().first() {
                    Some(b'+') => 1,
                    Some(b'-') => -1,
                    _ => return Err(bad()),
                };
                if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                    return Err(bad());
                }
                let hours: i64 = rest[1..3].parse().map_err(|_| bad())?;
                let minutes: i64 = rest[4..6].parse().map_err(|_| bad())?;
                if hours > 23 || minutes > 59 {
                    return Err(bad());
                }
                sign * (hours * 3600 + minutes * 60)
            }
        };
        seconds += hour * 3600 + minute * 60 + second.min(59) - offset;
    }
    u64::try_from(seconds).map_err(|_| format!("{text:?} is before 1970"))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn rfc_3339_and_plain_dates() {
        // Expected values from `date -u -d … +%s`.
        assert_eq!(parse_date("1970-01-01"), Ok(0));
        assert_eq!(parse_date("2027-01-31"), Ok(1_801_353_600));
        assert_eq!(parse_date("2027-01-31T18:00:00Z"), Ok(1_801_418_400));
        assert_eq!(parse_date("2027-01-31T19:00:00+01:00"), Ok(1_801_418_400));
        assert_eq!(
            parse_date("2027-01-31T17:30:00.25-00:30"),
            Ok(1_801_418_400)
        );
        assert_eq!(parse_date("2024-02-29"), Ok(1_709_164_800));
        for bad in [
            "",
            "2027-1-31",
            "2027-02-29",
            "2027-13-01",
            "2027-01-31T18:00:00",
            "2027-01-31T25:00:00Z",
            "2027-01-31T18:00:00+1:00",
            "tomorrow",
            "1969-12-31",
            "２０２７-01-31",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?}");
        }
    }
}
