//! Application assembly: the router, the background worker,
//! and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Json, Router};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::auth::authenticate;
use crate::http::context::request_context;
use crate::http::extract::MAX_BODY_BYTES;
use crate::security::crypto::Sealer;
use crate::security::keys::KeyVerifier;
use crate::security::secrets::Secrets;
use crate::state::AppState;
use crate::storage::db::Db;
use crate::write::pipeline::Pipeline;
use crate::{bridge, customers, jobs, paykeys, webhooks, widget};

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
        .merge(webhooks::routes::router())
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
        let mut db_options = config.db.clone();
        db_options.application_name = config.instance_id.clone();
        let db = Db::connect_with(&config.database_url, &db_options).await?;
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
        let sealer = Arc::new(Sealer::new(&secrets));
        let pipeline = Pipeline::new(
            db.clone(),
            clock.clone(),
            sealer.clone(),
            config.environment,
            config.background_delay,
        );
        let state = AppState {
            db,
            pipeline,
            clock,
            keys,
            sealer,
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
        jobs::schedule_recurring(&self.state)
            .await
            .map_err(|err| std::io::Error::other(err.to_string()))?;
        let worker = tokio::spawn(jobs::run(self.state.clone()));
        let deliveries = tokio::spawn(webhooks::delivery::run(self.state.clone()));
        let app = router(self.state);
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        worker.abort();
        deliveries.abort();
        result
    }
}
