//! Whether a CRM has anything stale now: the finder's first page for each
//! of its models, as a batch run would start it (since its checkpoint, a
//! few milliseconds when nothing changed), read without syncing or
//! writing anything.

use crate::context::Context;
use crate::error::Result;
use crate::runs::checkpointing;
use crate::stale::finder::Selection;
use crate::stale::StaleIds;

/// Whether a batch run of `crm` would find a stale record now.
pub(crate) async fn anything_stale(ctx: &Context, crm: &str) -> Result<bool> {
    let models: Vec<String> = ctx
        .catalog()
        .models()
        .filter(|model| model.binding(crm).is_some())
        .map(|model| model.resource_type.clone())
        .collect();
    for model in models {
        let pages = StaleIds::new(ctx, crm, &model, Selection::Stale)?;
        let (mut pages, _) = checkpointing::start(ctx, pages, crm, &model, false).await?;
        while let Some(page) = pages.next_page().await? {
            if !page.is_empty() {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
