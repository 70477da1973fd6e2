//! The canonical codes of a collections activity: its channel, direction and outcome
//! (docs/contracts.md, "activities"). Exports spell them their own way; an input's
//! `channels`, `directions` and `outcomes` mappings translate those spellings to these.

/// How the collector (or the debtor) made contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Call,
    Email,
    Letter,
    Sms,
    Portal,
    Visit,
    Agency,
    Legal,
}

/// Which way the activity went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Outbound,
    Inbound,
}

/// What the activity achieved, as the collector recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// An attempt that reached nobody (no answer, voicemail, bounced).
    NoAnswer,
    /// Someone other than the debtor was reached (a wrong number, a relative, a receptionist).
    WrongParty,
    /// The debtor (right party) was reached; nothing more was agreed.
    Contact,
    PromiseToPay,
    Dispute,
    PaymentPlan,
    Refused,
    /// The debtor asked the collector to stop communicating (FDCPA § 805(c)).
    CeaseRequest,
    /// The validation notice (Regulation F § 1006.34) was sent.
    ValidationNotice,
    /// The account or the matter was resolved (paid, settled, closed).
    Resolved,
}

/// A canonical code: its spelling and every value, for mappings and `ardent schema`.
pub trait Code: Copy + Sized + 'static {
    /// Every value, in the order documented.
    const ALL: &'static [Self];
    /// The config key of the input's mapping for this code (`channels`, ...).
    const MAPPING: &'static str;
    /// Canonical spelling.
    fn as_str(self) -> &'static str;
    /// Parse the canonical spelling.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == s)
    }
    /// Every canonical spelling, comma-separated (for messages).
    fn spellings() -> String {
        Self::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl Code for Channel {
    const ALL: &'static [Self] = &[
        Channel::Call,
        Channel::Email,
        Channel::Letter,
        Channel::Sms,
        Channel::Portal,
        Channel::Visit,
        Channel::Agency,
        Channel::Legal,
    ];
    const MAPPING: &'static str = "channels";
    fn as_str(self) -> &'static str {
        match self {
            Channel::Call => "call",
            Channel::Email => "email",
            Channel::Letter => "letter",
            Channel::Sms => "sms",
            Channel::Portal => "portal",
            Channel::Visit => "visit",
            Channel::Agency => "agency",
            Channel::Legal => "legal",
        }
    }
}

impl Code for Direction {
    const ALL: &'static [Self] = &[Direction::Outbound, Direction::Inbound];
    const MAPPING: &'static str = "directions";
    fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

impl Code for Outcome {
    const ALL: &'static [Self] = &[
        Outcome::NoAnswer,
        Outcome::WrongParty,
        Outcome::Contact,
        Outcome::PromiseToPay,
        Outcome::Dispute,
        Outcome::PaymentPlan,
        Outcome::Refused,
        Outcome::CeaseRequest,
        Outcome::ValidationNotice,
        Outcome::Resolved,
    ];
    const MAPPING: &'static str = "outcomes";
    fn as_str(self) -> &'static str {
        match self {
            Outcome::NoAnswer => "no_answer",
            Outcome::WrongParty => "wrong_party",
            Outcome::Contact => "contact",
            Outcome::PromiseToPay => "promise_to_pay",
            Outcome::Dispute => "dispute",
            Outcome::PaymentPlan => "payment_plan",
            Outcome::Refused => "refused",
            Outcome::CeaseRequest => "cease_request",
            Outcome::ValidationNotice => "validation_notice",
            Outcome::Resolved => "resolved",
        }
    }
}

impl Outcome {
    /// Someone was reached: every recorded outcome but no answer and a notice sent.
    pub fn is_contact(self) -> bool {
        !matches!(self, Outcome::NoAnswer | Outcome::ValidationNotice)
    }

    /// The debtor was reached (right-party contact): a contact with someone other than a
    /// wrong party.
    pub fn is_right_party(self) -> bool {
        self.is_contact() && self != Outcome::WrongParty
    }

    /// The outcome records a promise (a promise to pay or a payment plan), which needs an
    /// amount and a date.
    pub fn is_promise(self) -> bool {
        matches!(self, Outcome::PromiseToPay | Outcome::PaymentPlan)
    }
}

/// An export's spellings of one code: the canonical ones and the configured ones, matched
/// exactly first, then ignoring case and surrounding spaces.
#[derive(Debug, Clone)]
pub struct Spellings<C> {
    pub pairs: Vec<(String, C)>,
}

impl<C: Code> Spellings<C> {
    /// The canonical spellings plus `mapped` (export code → canonical spelling); an unknown
    /// target is returned as `Err(code, target)`.
    pub fn new<'a>(mapped: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<Self, (String, String)> {
        let mut pairs: Vec<(String, C)> = C::ALL.iter().map(|c| (c.as_str().to_string(), *c)).collect();
        for (code, target) in mapped {
            let Some(c) = C::parse(target.trim()) else { return Err((code.clone(), target.clone())) };
            pairs.push((code.clone(), c));
        }
        Ok(Spellings { pairs })
    }

    /// The canonical value of an export's spelling.
    pub fn get(&self, code: &str) -> Option<C> {
        let code = code.trim();
        self.pairs
            .iter()
            .find(|(c, _)| c == code)
            .or_else(|| self.pairs.iter().find(|(c, _)| c.eq_ignore_ascii_case(code)))
            .map(|(_, v)| *v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapped_codes_translate_and_canonical_ones_always_pass() {
        let mapped = [("TEL".to_string(), "call".to_string()), ("Mail".to_string(), "letter".to_string())];
        let s: Spellings<Channel> = Spellings::new(mapped.iter().map(|(a, b)| (a, b))).expect("valid");
        assert_eq!(s.get("TEL"), Some(Channel::Call));
        assert_eq!(s.get(" mail "), Some(Channel::Letter));
        assert_eq!(s.get("SMS"), Some(Channel::Sms));
        assert_eq!(s.get("fax"), None);
        let bad = [("FAX".to_string(), "facsimile".to_string())];
        assert!(Spellings::<Channel>::new(bad.iter().map(|(a, b)| (a, b))).is_err());
    }

    #[test]
    fn contact_and_promise_outcomes() {
        assert!(!Outcome::NoAnswer.is_contact() && !Outcome::ValidationNotice.is_contact());
        assert!(Outcome::Refused.is_contact() && Outcome::CeaseRequest.is_contact());
        assert!(Outcome::WrongParty.is_contact() && !Outcome::WrongParty.is_right_party());
        assert!(Outcome::PaymentPlan.is_promise() && !Outcome::Dispute.is_promise());
    }
}
