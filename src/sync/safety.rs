//! The safety rules of sync.md §7: the limits on deprovisions and on member removals (a
//! count `N` or a share `P%`, with the defaults), and the reasons a plan is blocked. A blocked
//! plan is still made, for review; `sync apply` refuses it unless forced.

/// A limit as the invocation gives it (`max_deprovision`, `max_member_removals`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Not given: 10 % of the base, clamped to the rule's floor and ceiling.
    Default,
    /// `N`: at most N.
    Count(u64),
    /// `P%`: at most floor(P × base / 100), P = `units` / 10^`scale` (exact decimal).
    Share { units: u64, scale: u32 },
}

/// The default share: 10 %.
const DEFAULT_PERCENT: u64 = 10;
/// Digits after a share's decimal point that are read.
const MAX_SCALE: u32 = 6;

/// What a limit is measured against, and the default's floor and ceiling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The argument's name, as a message names it.
    pub argument: &'static str,
    /// The default's floor and ceiling (sync.md §7).
    pub floor: u64,
    pub ceiling: u64,
}

/// sync.md §7: 10 % of the active, unprotected users, at least 10 and at most 500.
pub const DEPROVISIONS: Rule = Rule {
    argument: "max_deprovision",
    floor: 10,
    ceiling: 500,
};

/// sync.md §7: 10 % of the managed groups' current memberships, at least 10 and at most 1,000.
pub const MEMBER_REMOVALS: Rule = Rule {
    argument: "max_member_removals",
    floor: 10,
    ceiling: 1_000,
};

impl Limit {
    /// Read `N` or `P%` (P from 0 to 100, with up to six decimals); the message says what is
    /// wrong.
    pub fn parse(text: &str) -> Result<Limit, String> {
        let bad = || format!("expected a count N or a share P% (such as 25 or 2.5%), got {text:?}");
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        if let Some(percent) = text.strip_suffix('%') {
            let (whole, fraction) = percent.split_once('.').unwrap_or((percent, ""));
            if !digits(whole) || !(fraction.is_empty() || digits(fraction)) {
                return Err(bad());
            }
            if fraction.len() > MAX_SCALE as usize {
                return Err(format!(
                    "a share has at most {MAX_SCALE} decimals, got {text:?}"
                ));
            }
            let scale = fraction.len() as u32;
            let units = format!("{whole}{fraction}")
                .parse::<u64>()
                .map_err(|_| bad())?;
            if u128::from(units) > 100 * 10_u128.pow(scale) {
                return Err(format!("a share is at most 100%, got {text:?}"));
            }
            return Ok(Limit::Share { units, scale });
        }
        if !digits(text) {
            return Err(bad());
        }
        text.parse().map(Limit::Count).map_err(|_| bad())
    }

    /// How many the limit allows out of `base` under `rule`.
    pub fn allowed(self, rule: Rule, base: u64) -> u64 {
        match self {
            Limit::Default => (base * DEFAULT_PERCENT / 100).clamp(rule.floor, rule.ceiling),
            Limit::Count(count) => count,
            Limit::Share { units, scale } => {
                let allowed = u128::from(units) * u128::from(base) / (100 * 10_u128.pow(scale));
                allowed as u64
            }
        }
    }

    /// How the allowance was reached, for a block reason.
    fn explain(self, rule: Rule, base: u64, of_what: &str) -> String {
        match self {
            Limit::Default => format!(
                "the default: {DEFAULT_PERCENT}% of the {base} {of_what}, at least {} and at most {}",
                rule.floor, rule.ceiling
            ),
            Limit::Count(count) => format!("{} {count}", rule.argument),
            Limit::Share { units, scale } => {
                let scale = scale as usize;
                let digits = format!("{units:0>width$}", width = scale + 1);
                let (whole, fraction) = digits.split_at(digits.len() - scale);
                let percent = if fraction.is_empty() {
                    whole.to_string()
                } else {
                    format!("{whole}.{fraction}")
                };
                format!("{} {percent}% of the {base} {of_what}", rule.argument)
            }
        }
    }
}

/// What the plan would do that a limit bounds, and what the limits are measured against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub deprovisions: u64,
    /// The directory's active users that no glob protects.
    pub active_unprotected: u64,
    pub member_removals: u64,
    /// The managed groups' current memberships.
    pub memberships: u64,
    /// Valid desired profiles.
    pub desired: u64,
    pub invalid_lines: u64,
}

/// The reasons the plan is blocked (sync.md §7), in a fixed order; empty when it is not.
pub fn block_reasons(
    exposure: Exposure,
    max_deprovision: Limit,
    max_member_removals: Limit,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if exposure.desired == 0 {
        reasons.push("the desired state is empty".to_string());
    }
    if exposure.invalid_lines > 0 {
        reasons.push(format!(
            "the desired state has {} invalid line{} (see invalid_lines): the people on them could be deprovisioned",
            exposure.invalid_lines,
            plural(exposure.invalid_lines)
        ));
    }
    let allowed = max_deprovision.allowed(DEPROVISIONS, exposure.active_unprotected);
    if exposure.deprovisions > allowed {
        reasons.push(format!(
            "it would deprovision {} users, more than the {allowed} allowed ({})",
            exposure.deprovisions,
            max_deprovision.explain(
                DEPROVISIONS,
                exposure.active_unprotected,
                "active, unprotected users"
            )
        ));
    }
    let allowed = max_member_removals.allowed(MEMBER_REMOVALS, exposure.memberships);
    if exposure.member_removals > allowed {
        reasons.push(format!(
            "it would remove {} group memberships, more than the {allowed} allowed ({})",
            exposure.member_removals,
            max_member_removals.explain(
                MEMBER_REMOVALS,
                exposure.memberships,
                "current memberships of the managed groups"
            )
        ));
    }
    reasons
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_deprovision_limit_is_ten_percent_at_least_ten_at_most_five_hundred() {
        // sync.md §7's own examples: 60 users allow 10, 100,000 allow 500.
        assert_eq!(Limit::Default.allowed(DEPROVISIONS, 60), 10);
        assert_eq!(Limit::Default.allowed(DEPROVISIONS, 100_000), 500);
        // In between, 10 %: 1,234 users allow 123.
        assert_eq!(Limit::Default.allowed(DEPROVISIONS, 1_234), 123);
        assert_eq!(Limit::Default.allowed(DEPROVISIONS, 0), 10);
    }

    #[test]
    fn the_default_member_removal_limit_is_ten_percent_at_least_ten_at_most_one_thousand() {
        assert_eq!(Limit::Default.allowed(MEMBER_REMOVALS, 50), 10);
        assert_eq!(Limit::Default.allowed(MEMBER_REMOVALS, 5_000), 500);
        // The benchmark's 1,000 groups of 100: 100,000 memberships allow 1,000.
        assert_eq!(Limit::Default.allowed(MEMBER_REMOVALS, 100_000), 1_000);
    }

    #[test]
    fn counts_and_shares_are_read_exactly_and_shares_are_not_clamped() {
        assert_eq!(Limit::parse("25"), Ok(Limit::Count(25)));
        assert_eq!(Limit::parse("0"), Ok(Limit::Count(0)));
        assert_eq!(
            Limit::parse("2.5%"),
            Ok(Limit::Share {
                units: 25,
                scale: 1
            })
        );
        assert_eq!(Limit::Count(25).allowed(DEPROVISIONS, 1_000_000), 25);
        // 2.5 % of 1,000 is 25; 1 % of 60 is 0.6, so 0 (no floor for an explicit share).
        assert_eq!(
            Limit::parse("2.5%").unwrap().allowed(DEPROVISIONS, 1_000),
            25
        );
        assert_eq!(Limit::parse("1%").unwrap().allowed(DEPROVISIONS, 60), 0);
        // 100 % of 100,000 is 100,000 (no ceiling either); 0.1 % of 1,000 is 1, exactly.
        assert_eq!(
            Limit::parse("100%").unwrap().allowed(DEPROVISIONS, 100_000),
            100_000
        );
        assert_eq!(
            Limit::parse("0.1%").unwrap().allowed(DEPROVISIONS, 1_000),
            1
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "x%",
            "%",
            "101%",
            "10 %",
            " 5",
            "1e3",
            "0.0000001%",
        ] {
            assert!(Limit::parse(bad).is_err(), "{bad:?}");
        }
    }

    fn exposure() -> Exposure {
        Exposure {
            deprovisions: 0,
            active_unprotected: 60,
            member_removals: 0,
            memberships: 50,
            desired: 5,
            invalid_lines: 0,
        }
    }

    #[test]
    fn more_deprovisions_than_allowed_block_and_as_many_do_not() {
        let at_limit = Exposure {
            deprovisions: 10,
            ..exposure()
        };
        assert!(block_reasons(at_limit, Limit::Default, Limit::Default).is_empty());
        let over = Exposure {
            deprovisions: 11,
            ..exposure()
        };
        assert_eq!(
            block_reasons(over, Limit::Default, Limit::Default),
            [
                "it would deprovision 11 users, more than the 10 allowed (the default: 10% of the 60 active, unprotected users, at least 10 and at most 500)"
            ]
        );
        assert_eq!(
            block_reasons(over, Limit::Count(11), Limit::Default),
            Vec::<String>::new()
        );
        assert_eq!(
            block_reasons(over, Limit::parse("12.5%").unwrap(), Limit::Default),
            [
                "it would deprovision 11 users, more than the 7 allowed (max_deprovision 12.5% of the 60 active, unprotected users)"
            ]
        );
    }

    #[test]
    fn more_member_removals_than_allowed_block() {
        let over = Exposure {
            member_removals: 11,
            ..exposure()
        };
        assert_eq!(
            block_reasons(over, Limit::Default, Limit::Default),
            [
                "it would remove 11 group memberships, more than the 10 allowed (the default: 10% of the 50 current memberships of the managed groups, at least 10 and at most 1000)"
            ]
        );
        assert!(block_reasons(over, Limit::Default, Limit::Count(11)).is_empty());
        assert_eq!(
            block_reasons(over, Limit::Default, Limit::Count(3)),
            [
                "it would remove 11 group memberships, more than the 3 allowed (max_member_removals 3)"
            ]
        );
    }

    #[test]
    fn an_empty_desired_state_and_invalid_lines_block() {
        let empty = Exposure {
            desired: 0,
            ..exposure()
        };
        assert_eq!(
            block_reasons(empty, Limit::Default, Limit::Default),
            ["the desired state is empty"]
        );
        let invalid = Exposure {
            invalid_lines: 2,
            ..exposure()
        };
        assert_eq!(
            block_reasons(invalid, Limit::Default, Limit::Default),
            [
                "the desired state has 2 invalid lines (see invalid_lines): the people on them could be deprovisioned"
            ]
        );
    }
}
