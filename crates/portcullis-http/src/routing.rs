//! The route table's machinery: each path is added once with its methods, its handlers and its
//! limit, and every (method, path) added is recorded, so the OpenAPI document can be checked
//! against what is really served (`crate::routes()`).

use actix_web::http::Method;
use actix_web::middleware::from_fn;
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, Handler, Responder, Route};
use portcullis_domain::limits::Limit;

/// One method of a path, with its handler.
pub(crate) struct On {
    method: Method,
    route: Route,
}

/// `method` answered by `handler`.
pub(crate) fn on<F, Args>(method: Method, handler: F) -> On
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    On {
        route: web::method(method.clone()).to(handler),
        method,
    }
}

/// Registers paths on a [`ServiceConfig`] and records them.
pub(crate) struct Routes<'a> {
    pub(crate) cfg: &'a mut ServiceConfig,
    pub(crate) seen: &'a mut Vec<(Method, &'static str)>,
}

impl Routes<'_> {
    /// Serves `path` with these methods; every other method gets 405 with `Allow` and the
    /// envelope. With a `limit`, each request is first counted per client network (only POSTs
    /// count; see `limit::per_client`).
    pub(crate) fn add(&mut self, path: &'static str, limit: Option<Limit>, methods: Vec<On>) {
        let allow = methods.iter().map(|o| o.method.as_str()).collect::<Vec<_>>().join(", ");
        let mut resource = web::resource(path).default_service(web::to(move || {
            let allow = allow.clone();
            async move { crate::routes::method_not_allowed(&allow) }
        }));
        for on in methods {
            self.seen.push((on.method, path));
            resource = resource.route(on.route);
        }
        match limit {
            Some(limit) => self
                .cfg
                .service(resource.wrap(from_fn(move |req, next| crate::limit::per_client(limit, req, next)))),
            None => self.cfg.service(resource),
        };
    }

    /// A POST-only path.
    pub(crate) fn post<F, Args>(&mut self, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, None, vec![on(Method::POST, handler)]);
    }

    /// A POST-only path counted per client network against `limit`.
    pub(crate) fn limited<F, Args>(&mut self, path: &'static str, limit: Limit, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, Some(limit), vec![on(Method::POST, handler)]);
    }

    /// A GET-only path.
    pub(crate) fn get<F, Args>(&mut self, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(path, None, vec![on(Method::GET, handler)]);
    }
}
