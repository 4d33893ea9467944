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
use utoipa_axum::router::OpenApiRouter;

use crate::clock::Clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::http::auth::authenticate;
use crate::http::context::request_context;
use crate::http::extract::MAX_BODY_BYTES;
use crate::http::server;
use crate::security::crypto::Sealer;
use crate::security::guard::Guard;
use crate::security::keys::KeyVerifier;
use crate::security::rate_limit::RateLimiter;
use crate::security::secrets::{check, SecretSources};
use crate::state::{AppState, Shared};
use crate::storage::db::Db;
use crate::write::pipeline::Pipeline;
use crate::{bridge, customers, jobs, metrics, paykeys, webhooks, widget};

/// Builds the full router: API routes behind authentication, the OpenAPI
/// document, health, and envelope-shaped 404/405 for everything else.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = OpenApiRouter::with_openapi(crate::openapi::base())
        .merge(customers::routes::router())
        .merge(bridge::routes::router())
        .merge(paykeys::routes::router())
        .merge(webhooks::routes::router())
        .split_for_parts();
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    let openapi = Arc::new(crate::openapi::finish(openapi));
    Router::new()
        .merge(api)
        .merge(widget::router())
        .route("/health", get(health))
        .route("/ready", get(ready))
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
        .layer(middleware::from_fn(metrics::track))
        .with_state(state)
}

/// The metrics listener's router: `GET /metrics` only.
fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::serve))
        .with_state(state)
}

/// Why this instance should not get traffic, if it should not: the
/// database does not answer, lacks a migration, or holds secrets other than
/// this instance's.
pub async fn readiness(state: &AppState) -> Result<(), String> {
    let db = &state.db;
    match db.migrations_applied().await {
        Ok(true) => {}
        Ok(false) => return Err("database migrations are not all applied".into()),
        Err(err) => return Err(format!("database: {err}")),
    }
    check::matches(db, &state.secrets)
        .await
        .map_err(|err| err.to_string())
}

async fn ready(State(state): State<AppState>) -> Response {
    match readiness(&state).await {
        Ok(()) => Json(serde_json::json!({"status": "ready"})).into_response(),
        Err(reason) => {
            tracing::warn!(%reason, "not ready");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "reason": reason})),
            )
                .into_response()
        }
    }
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
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    /// Connects storage, resolves and checks secrets, binds the listeners.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        let mut db_options = config.db.clone();
        db_options.application_name = config.instance_id.clone();
        let db = Db::connect_with(&config.database_url, &db_options).await?;
        let sources = SecretSources {
            file: config.secrets_file.clone(),
            env: config.secret_env.clone(),
        };
        let secrets = Arc::new(sources.resolve(&db, clock.as_ref()).await?);
        tracing::info!(
            signing_secret = %secrets.jwt_origin,
            data_key = %secrets.data_origin,
            "secrets match the database's check values"
        );
        let keys = Arc::new(KeyVerifier::new(
            &secrets,
            config.environment,
            RateLimiter::new(config.rate_limit_per_second, db.is_shared()),
            clock.clone(),
        ));
        keys.refresh_revocations(&db).await?;
        keys.clone()
            .spawn_refresher(db.clone(), config.key_cache_refresh);
        match server::raise_open_file_limit() {
            Ok(limit) => tracing::debug!(limit, "open-file limit"),
            Err(err) => tracing::warn!(error = %err, "could not raise the open-file limit"),
        }
        let listener = TcpListener::bind(config.addr).await?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await?),
            None => None,
        };
        let providers = Arc::new(config.providers()?);
        let sealer = Arc::new(Sealer::new(&secrets));
        let pipeline = Pipeline::new(
            db.clone(),
            clock.clone(),
            sealer.clone(),
            config.environment,
            config.background_delay,
        );
        let guard = Arc::new(Guard::new(config.guard));
        guard.clone().spawn_reporter(clock.clone());
        let state = AppState::new(Shared {
            db,
            pipeline,
            clock,
            keys,
            sealer,
            bridge_key: Arc::new(secrets.bridge_key()),
            guard,
            secrets,
            config: Arc::new(config),
            providers,
        });
        Ok(Application {
            listener,
            metrics_listener,
            state,
        })
    }

    /// The address `/metrics` is served on, if any.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
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
        let limits = self.state.config.connections;
        let metrics = self.metrics_listener.map(|listener| {
            let app = metrics_router(self.state.clone());
            tokio::spawn(async move { axum::serve(listener, app).await })
        });
        let deliveries = tokio::spawn(webhooks::delivery::run(self.state.clone()));
        let app = router(self.state);
        let result = server::serve(self.listener, app, limits, shutdown).await;
        worker.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        deliveries.abort();
        result
    }
}
