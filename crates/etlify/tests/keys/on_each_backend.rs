//! The tests of `keys` that run on each backend. This file is compiled
//! three times, as `keys::sqlite`, `keys::postgres` and `keys::mysql`
//! (`mod.rs`); `BACKEND` is this copy's.

use super::*;
use crate::support::Backend;

const BACKEND: Backend = Backend::of_module(module_path!());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_first_sync_then_a_changed_dependency_sends_exactly_its_records() {
    first_sync_then_a_changed_dependency(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_first_sync_then_a_changed_dependency_sends_exactly_its_records() {
    first_sync_then_a_changed_dependency(TestDb::new(BACKEND).await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_record_is_synced_by_its_key() {
    a_record_synced_by_its_key(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_a_record_is_synced_by_its_key() {
    a_record_synced_by_its_key(TestDb::new(BACKEND).await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_record_in_another_engines_page_waits_for_it() {
    a_record_in_another_engines_page_waits_for_it(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_a_record_in_another_engines_page_waits_for_it() {
    a_record_in_another_engines_page_waits_for_it(TestDb::new(BACKEND).await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_a_misdeclared_key_type_is_refused_at_build() {
    a_misdeclared_key_type_is_refused_at_build(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_a_misdeclared_key_type_is_refused_at_build() {
    a_misdeclared_key_type_is_refused_at_build(TestDb::new(BACKEND).await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_people_are_associated_with_their_accounts() {
    people_are_associated_with_their_accounts(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_people_are_associated_with_their_accounts() {
    people_are_associated_with_their_accounts(TestDb::new(BACKEND).await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_members_are_associated_through_a_join_table() {
    members_are_associated_through_a_join_table(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_members_are_associated_through_a_join_table() {
    members_are_associated_through_a_join_table(TestDb::new(BACKEND).await, &TEXTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uuid_state_tables_made_for_integers_are_refused_or_kept() {
    state_tables_made_for_integers(TestDb::new(BACKEND).await, &UUIDS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_key_state_tables_made_for_integers_are_refused_or_kept() {
    state_tables_made_for_integers(TestDb::new(BACKEND).await, &TEXTS).await;
}
