//! The tests of `property` that run on each backend. This file is compiled
//! twice, as `property::sqlite` and `property::postgres` (`mod.rs`); `BACKEND` is
//! this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finder_plans_match_the_definition_of_stale_on_generated_data() {
    let db = TestDb::new(BACKEND).await;
    create_world(&db).await;
    let model = Model::new("User", "users").bind(
        "hubspot",
        Binding::new("contacts", "email")
            .payload(SqlPayload::new("SELECT id, email FROM users"))
            .dependency(Dependency::belongs_to("companies", "company_id"))
            .dependency(Dependency::has_many("notes", "user_id"))
            .dependency(Dependency::habtm("tags_users", "user_id", "tag_id", "tags")),
    );
    let etlify = engine(
        &db,
        vec![Crm::new("hubspot", Arc::new(NullAdapter::new()))
            .max_sync_errors(u32::from(MAX_ERRORS))],
        vec![model],
    )
    .await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    // The runner's error carries the failing world, shrunk; it is printed whole.
    #[allow(clippy::result_large_err)]
    let result = tokio::task::block_in_place(|| {
        runner.run(&world(), |world| {
            handle.block_on(async {
                load(&db, &world).await;
                let expected = oracle(&world);
                let reference = found(&etlify, FinderPlan::Reference, None, false).await;
                let fast = found(&etlify, FinderPlan::ChangedSince, None, false).await;
                // Without the switch to the reference plan for many candidates.
                let each = found(&etlify, FinderPlan::ChangedSince, None, true).await;
                let since =
                    found(&etlify, FinderPlan::ChangedSince, Some(world.checkpoint), false).await;
                if reference != expected {
                    return Err(TestCaseError::fail(format!(
                        "reference plan {reference:?} != definition {expected:?}"
                    )));
                }
                if fast != expected {
                    return Err(TestCaseError::fail(format!(
                        "ChangedSince plan {fast:?} != definition {expected:?}"
                    )));
                }
                if each != expected {
                    return Err(TestCaseError::fail(format!(
                        "ChangedSince plan looking at every candidate {each:?} != definition {expected:?}"
                    )));
                }
                let expected_since = since_checkpoint(&world);
                if since != expected_since {
                    return Err(TestCaseError::fail(format!(
                        "ChangedSince plan from the checkpoint {since:?} != {expected_since:?} (stale: {expected:?})"
                    )));
                }
                Ok(())
            })
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
