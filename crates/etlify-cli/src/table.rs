//! Tables for people (`status`, `plan`, `crms`, `errors`); `--json` is for
//! scripts. Columns fit their content; numbers are right-aligned.

use comfy_table::{presets, CellAlignment, Table};

/// A table with `headers`; the columns listed in `numeric` are right-aligned.
pub(crate) fn render(headers: &[&str], numeric: &[usize], rows: Vec<Vec<String>>) -> String {
    let mut table = Table::new();
    table.load_style(presets::UTF8_HORIZONTAL_ONLY);
    table.set_header(headers.iter().copied());
    for row in rows {
        table.add_row(row);
    }
    for index in numeric {
        if let Some(column) = table.column_mut(*index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table.to_string()
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn cli_tables_fit_long_names_and_align_numbers() {
        let text = render(
            &["model", "records"],
            &[1],
            vec![
                vec!["AVeryLongModelNameIndeed".into(), "7".into()],
                vec!["User".into(), "1234".into()],
            ],
        );
        assert!(text.contains("AVeryLongModelNameIndeed"), "{text}");
        let line_of = |needle: &str| {
            text.lines()
                .find(|l| l.contains(needle))
                .unwrap()
                .to_owned()
        };
        let (long, short) = (line_of("AVeryLong"), line_of("User"));
        assert_eq!(
            long.find('7').unwrap(),
            short.find('4').unwrap(),
            "numbers end in the same column:\n{text}"
        );
    }
}
