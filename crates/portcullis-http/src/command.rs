//! Request bodies validated into the commands handlers act on: one extractor for every
//! endpoint that takes a body, [`Valid`], and [`Signed`] for those that also need a signed-in
//! caller.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::body::Body;
use crate::captcha::{CaptchaEndpoint, CaptchaFields};
use crate::dto::Validator;
use crate::error::ApiError;
use crate::extract::Authenticated;
use crate::state::AppState;

/// What a request body means once every field is valid.
pub trait Command: Sized + 'static {
    /// The body as it arrives (every field optional, so a missing one is a 422, not a 400).
    type Body: DeserializeOwned + 'static;

    /// The captcha a public endpoint requires, checked before the body is validated, so that
    /// nothing about accounts or usernames is learnt without one.
    fn captcha(_body: &Self::Body) -> Option<(CaptchaEndpoint, &CaptchaFields)> {
        None
    }

    /// Parses every field, recording each problem in `v` (all of them, for one 422).
    fn parse(body: Self::Body, state: &AppState, v: &mut Validator) -> Option<Self>;
}

/// A body validated into its command: 415, 413 or 400 from [`Body`], then the captcha, then
/// one 422 that lists every invalid field.
#[derive(Debug)]
pub struct Valid<C>(pub C);

impl<C: Command> FromRequest for Valid<C> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = Body::<C::Body>::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let Body(body) = body.await?;
            let state = req
                .app_data::<actix_web::web::Data<AppState>>()
                .ok_or_else(|| ApiError::internal(&"application state missing"))?;
            if let (Some((endpoint, fields)), Some(gate)) = (C::captcha(&body), &state.captcha) {
                gate.check(endpoint, fields, crate::extract::client_ip(&req)).await?;
            }
            let mut v = Validator::default();
            let command = C::parse(body, state, &mut v);
            v.done(command).map(Valid)
        })
    }
}

/// A signed-in caller and their validated command. The caller is authenticated first, so a
/// request on an ended session gets 401 whatever its body, never a 4xx about the body.
#[derive(Debug)]
pub struct Signed<C>(pub Authenticated, pub C);

impl<C: Command> FromRequest for Signed<C> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Authenticated::from_request(req, payload);
        let command = Valid::<C>::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            let Valid(command) = command.await?;
            Ok(Signed(caller, command))
        })
    }
}
