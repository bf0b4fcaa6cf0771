//! What an error says of a name that matches nothing declared: the nearest
//! known name when one is a typo or two away ("did you mean `users`?"),
//! else, for short lists (CRMs, models), the known names.

/// `"; did you mean `users`?"` when one of `names` is at most a third of
/// `wrong`'s letters away from it (at least one), else nothing.
pub(crate) fn did_you_mean<'a>(wrong: &str, names: impl IntoIterator<Item = &'a str>) -> String {
    let allowed = (wrong.chars().count() / 3).max(1);
    names
        .into_iter()
        .map(|name| (strsim::damerau_levenshtein(wrong, name), name))
        .filter(|(distance, _)| *distance <= allowed)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| format!("; did you mean `{name}`?"))
        .unwrap_or_default()
}

/// [`did_you_mean`], else `"; the {what}: a, b"` (nothing when there are
/// none).
pub(crate) fn nearest_or_all<'a>(
    wrong: &str,
    what: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> String {
    let all: Vec<&str> = names.into_iter().collect();
    let nearest = did_you_mean(wrong, all.iter().copied());
    match (nearest.is_empty(), all.is_empty()) {
        (false, _) => nearest,
        (true, true) => String::new(),
        (true, false) => format!("; the {what}: {}", all.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_gets_the_nearest_name_and_a_stranger_the_list() {
        assert_eq!(
            did_you_mean("user", ["users", "companies"]),
            "; did you mean `users`?"
        );
        assert_eq!(
            did_you_mean("companyid", ["company_id", "id"]),
            "; did you mean `company_id`?"
        );
        assert_eq!(did_you_mean("ghosts", ["users", "companies"]), "");
        assert_eq!(
            nearest_or_all("salesforce", "registered CRMs", ["hubspot", "airtable"]),
            "; the registered CRMs: hubspot, airtable"
        );
        assert_eq!(nearest_or_all("x", "declared models", []), "");
    }
}
