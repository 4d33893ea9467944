//! Walking a list endpoint page by page as one [`Stream`] of items.

use std::future::Future;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use straddle_types::customer::CustomerListQuery;
use straddle_types::paykey::PaykeyListQuery;
use straddle_types::ArrayResponse;

use crate::error::Result;
use crate::response::ApiResponse;

/// A list query with a `page_number`.
pub(crate) trait PageQuery: Clone + Send + 'static {
    /// The page asked for, if any.
    fn page_number(&self) -> Option<u32>;
    /// Asks for `page` instead.
    fn set_page_number(&mut self, page: u32);
}

impl PageQuery for CustomerListQuery {
    fn page_number(&self) -> Option<u32> {
        self.page_number
    }

    fn set_page_number(&mut self, page: u32) {
        self.page_number = Some(page);
    }
}

impl PageQuery for PaykeyListQuery {
    fn page_number(&self) -> Option<u32> {
        self.page_number
    }

    fn set_page_number(&mut self, page: u32) {
        self.page_number = Some(page);
    }
}

/// Every item from the query's page (default 1) on: fetches the next page
/// only when the previous one is used up, and stops after an empty page or
/// the last of `meta.total_pages`. An error ends the stream after it is
/// yielded.
pub(crate) fn auto_paging<Q, T, F, Fut>(query: Q, fetch: F) -> BoxStream<'static, Result<T>>
where
    Q: PageQuery,
    T: Send + 'static,
    F: FnMut(Q) -> Fut + Send + 'static,
    Fut: Future<Output = Result<ApiResponse<ArrayResponse<T>>>> + Send,
{
    let first = query.page_number().unwrap_or(1);
    stream::try_unfold(
        (Some(first), query, fetch),
        |(page, mut query, mut fetch)| async move {
            let Some(page) = page else {
                return Ok(None);
            };
            query.set_page_number(page);
            let response = fetch(query.clone()).await?.into_body();
            let more = !response.data.is_empty() && u64::from(page) < response.meta.total_pages;
            let next = more.then(|| page + 1);
            Ok(Some((response.data, (next, query, fetch))))
        },
    )
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}
