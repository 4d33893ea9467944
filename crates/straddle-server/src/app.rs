//! Application assembly: shared state, the router, the background worker,
//! and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use crate::sql::Conn;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use serde::Serialize;
use straddle_types::{
    ArrayResponse, ObjectResponse, PagedResponseMetadata, ResponseType, SortOrder, Timestamp,
};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

use crate::auth::{authenticate, KeyVerifier, Principal};
use crate::clock::Clock;
use crate::config::Config;
use crate::context::{json_response, request_context, RequestContext};
use crate::crypto::Sealer;
use crate::db::{Db, WriteFn};
use crate::error::ApiError;
use crate::extract::MAX_BODY_BYTES;
use crate::idempotency::Mutation;
use crate::paging::{Paging, MAX_PAGE_SIZE};
use crate::secrets::Secrets;
use crate::secrets::SigningKey;
use crate::{background, bridge, customers, paykeys, widget};
use straddle_providers::Providers;

/// Everything a request handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Storage.
    pub db: Db,
    /// The current time.
    pub clock: Arc<dyn Clock>,
    /// API key verification, account cache and rate limits.
    pub keys: Arc<KeyVerifier>,
    /// Encryption at rest.
    pub sealer: Arc<Sealer>,
    /// Server configuration.
    pub config: Arc<Config>,
    /// Plaid and Quiltt (sandbox or live).
    pub providers: Arc<Providers>,
    /// HS256 key of bridge tokens (distinct from the API-key key).
    pub bridge_key: Arc<SigningKey>,
}

impl std::fmt::Debug for dyn Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl AppState {
    /// When a background verification started now becomes due.
    pub fn background_due(&self, now: Timestamp) -> Timestamp {
        let delay = chrono::Duration::from_std(self.config.background_delay).unwrap_or_default();
        Timestamp(now.0 + delay)
    }
}

/// The authenticated caller of an API route, with what it sent.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Request id and time.
    pub context: RequestContext,
    /// Who calls, acting for which account.
    pub principal: Principal,
    idempotency_key: Option<HeaderValue>,
    method: Method,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let missing = || ApiError::Internal("route is missing its middleware".into());
        Ok(Caller {
            context: parts
                .extensions
                .get::<RequestContext>()
                .cloned()
                .ok_or_else(missing)?,
            principal: parts
                .extensions
                .get::<Principal>()
                .cloned()
                .ok_or_else(missing)?,
            idempotency_key: parts.headers.get("idempotency-key").cloned(),
            method: parts.method.clone(),
            path: parts.uri.path().to_string(),
        })
    }
}

impl Caller {
    /// The account whose data the request reads and writes.
    pub fn account_id(&self) -> Uuid {
        self.principal.account_id()
    }

    /// 403 unless the calling account may see unmasked data.
    pub fn require_unmask(&self) -> Result<(), ApiError> {
        if self.principal.authenticated.allow_unmask {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "This account is not allowed to unmask sensitive data.".into(),
            ))
        }
    }

    /// Runs `work` as an idempotent write for the acting account and
    /// answers with `status`. `work` gets the connection, the state and the
    /// acting account id.
    pub async fn mutate<T, F>(
        &self,
        state: &AppState,
        body: &serde_json::Value,
        status: StatusCode,
        work: F,
    ) -> Result<Response, ApiError>
    where
        T: Serialize + Send + 'static,
        F: for<'a, 'c> FnOnce(
                &'a mut Conn<'c>,
                AppState,
                Uuid,
            ) -> futures::future::BoxFuture<'a, Result<T, ApiError>>
            + Send
            + 'static,
    {
        let environment = state.config.environment.as_str();
        let mutation = Mutation::new(
            self.idempotency_key.as_ref(),
            &self.principal,
            environment,
            &self.method,
            &self.path,
            body,
        )?;
        let (work_state, account_id) = (state.clone(), self.account_id());
        let work: WriteFn<T> = Box::new(move |conn| work(conn, work_state, account_id));
        state.mutate(&self.context, mutation, status, work).await
    }

    /// A single-object response.
    pub fn object<T: Serialize>(&self, status: StatusCode, data: T) -> Result<Response, ApiError> {
        let body = ObjectResponse {
            meta: self.context.meta(),
            response_type: ResponseType::Object,
            data,
        };
        Ok(json_response(status, serde_json::to_string(&body)?))
    }

    /// A paged list response.
    pub fn array<T: Serialize>(
        &self,
        paging: Paging,
        total: u64,
        sort_by: String,
        sort_order: SortOrder,
        data: Vec<T>,
    ) -> Result<Response, ApiError> {
        let meta = self.context.meta();
        let body = ArrayResponse {
            meta: PagedResponseMetadata {
                api_request_id: meta.api_request_id,
                api_request_timestamp: meta.api_request_timestamp,
                max_page_size: MAX_PAGE_SIZE,
                page_number: paging.number,
                page_size: paging.size,
                sort_by,
                sort_order,
                total_items: total,
                total_pages: paging.total_pages(total),
            },
            response_type: ResponseType::Array,
            data,
        };
        Ok(json_response(StatusCode::OK, serde_json::to_string(&body)?))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Straddle Bridge API (self-hosted)", description = "Customers, Bridge linking and paykeys."),
    components(schemas(straddle_types::ErrorResponse)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// Builds the full router: API routes behind authentication, the OpenAPI
/// document, health, and envelope-shaped 404/405 for everything else.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(customers::routes::router())
        .merge(bridge::routes::router())
        .merge(paykeys::routes::router())
        .split_for_parts();
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    let openapi = Arc::new(openapi);
    Router::new()
        .merge(api)
        .merge(widget::router())
        .route("/health", get(health))
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .fallback(|| async { ApiError::NoRoute })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::Internal("handler panicked".into()).into_response()
        }))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            request_context,
        ))
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    state
        .db
        .reader()
        .await?
        .conn()
        .fetch_one("SELECT 1 AS ok", vec![])
        .await?;
    Ok(Json(serde_json::json!({"status": "ok"})).into_response())
}

/// A server bound to its address, ready to run.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Connects storage, loads secrets, binds the listener.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let secrets = Secrets::load_or_create(&config.secrets_file)?;
        let db = Db::connect_with_batch(&config.database_url, config.write_batch_limit).await?;
        let keys = Arc::new(KeyVerifier::new(
            secrets.jwt_key_bytes(),
            config.environment,
            config.rate_limit_per_second,
        ));
        keys.refresh_revocations(&db).await?;
        keys.clone()
            .spawn_refresher(db.clone(), config.key_cache_refresh);
        let listener = TcpListener::bind(config.addr).await?;
        let providers = Arc::new(config.providers()?);
        let state = AppState {
            db,
            clock,
            keys,
            sealer: Arc::new(Sealer::new(&secrets)),
            bridge_key: Arc::new(secrets.bridge_key()),
            config: Arc::new(config),
            providers,
        };
        Ok(Application { listener, state })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (admin operations at start-up, tests).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let worker = tokio::spawn(background::run(self.state.clone()));
        let app = router(self.state);
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        worker.abort();
        result
    }
}
