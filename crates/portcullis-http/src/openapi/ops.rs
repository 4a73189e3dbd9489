//! The pieces of an operation in the table: who may call it, its body, its answers.

use actix_web::http::Method;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, ToSchema};

/// Named schemas an operation refers to, for the components.
pub(super) type Named = Vec<(String, RefOr<Schema>)>;

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    Anyone,
    /// A user's access token.
    User,
    /// An operator's admin key.
    Operator,
}

/// What a success answers.
pub(super) enum Answer {
    /// `{"success": true, "data": …}`, with the named schemas `data` refers to.
    Data(RefOr<Schema>, Named),
    /// No body.
    Empty,
    /// A body of its own (not the envelope): content types and schema.
    Raw(&'static [&'static str], RefOr<Schema>),
}

/// One operation of the table.
pub(super) struct Op {
    pub(super) method: Method,
    pub(super) path: &'static str,
    pub(super) tag: &'static str,
    pub(super) summary: &'static str,
    pub(super) caller: Caller,
    pub(super) tenant_header: bool,
    pub(super) body: Option<(&'static [&'static str], RefOr<Schema>)>,
    pub(super) query: Vec<Parameter>,
    pub(super) answers: Vec<(u16, &'static str, Answer)>,
    pub(super) named: Named,
    /// A `multipart/form-data` body, beside `body`.
    pub(super) form: Option<RefOr<Schema>>,
}

/// The body content types every command endpoint takes.
const FORMS: &[&str] = &["application/json", "application/x-www-form-urlencoded"];

/// What an avatar upload takes as the body itself.
const PICTURES: &[&str] = &["image/png", "image/jpeg", "image/webp", "image/gif"];

impl Op {
    pub(super) fn new(method: Method, path: &'static str, tag: &'static str, summary: &'static str) -> Self {
        Self {
            method,
            path,
            tag,
            summary,
            caller: Caller::Anyone,
            tenant_header: false,
            body: None,
            query: Vec::new(),
            answers: Vec::new(),
            named: Vec::new(),
            form: None,
        }
    }

    pub(super) fn user(mut self) -> Self {
        self.caller = Caller::User;
        self
    }

    pub(super) fn operator(mut self) -> Self {
        self.caller = Caller::Operator;
        self
    }

    /// A public endpoint that serves the tenant named by `X-Tenant` (or `tenant_slug`).
    pub(super) fn tenant(mut self) -> Self {
        self.tenant_header = true;
        self
    }

    /// A JSON or form body of `T`.
    pub(super) fn body<T: ToSchema>(mut self) -> Self {
        self.body = Some((FORMS, named::<T>(&mut self.named)));
        self
    }

    /// A picture as the body, or a form with it in `avatar`.
    pub(super) fn picture(mut self) -> Self {
        self.body = Some((PICTURES, binary()));
        let form = any_object().property("avatar", binary()).required("avatar");
        self.form = Some(form.build().into());
        self
    }

    /// Query parameters of `P`.
    pub(super) fn query<P: IntoParams>(mut self) -> Self {
        self.query = P::into_params(|| Some(ParameterIn::Query));
        self
    }

    pub(super) fn answer(mut self, status: u16, description: &'static str, answer: Answer) -> Self {
        if let Answer::Data(_, named) = &answer {
            self.named.extend(named.iter().cloned());
        }
        self.answers.push((status, description, answer));
        self
    }
}

/// A reference to `T`'s schema, recording it (and what it refers to) in `out`.
pub(super) fn named<T: ToSchema>(out: &mut Named) -> RefOr<Schema> {
    out.push((T::name().into_owned(), T::schema()));
    T::schemas(out);
    RefOr::Ref(Ref::from_schema_name(T::name()))
}

pub(super) fn data<T: ToSchema>() -> Answer {
    let mut schemas = Vec::new();
    let schema = named::<T>(&mut schemas);
    Answer::Data(schema, schemas)
}

pub(super) fn list<T: ToSchema>() -> Answer {
    let mut schemas = Vec::new();
    let item = named::<T>(&mut schemas);
    Answer::Data(ArrayBuilder::new().items(item).build().into(), schemas)
}

/// An object whose fields API.md describes (not one wire type in the code).
pub(super) fn object() -> Answer {
    Answer::Data(any_object().into(), Vec::new())
}

pub(super) fn any_object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// A list of objects.
pub(super) fn objects() -> Answer {
    Answer::Data(ArrayBuilder::new().items(any_object()).build().into(), Vec::new())
}

/// `{"message": "…"}`: an accepted request whose result is mailed.
pub(super) fn message() -> Answer {
    let schema = any_object()
        .property("message", ObjectBuilder::new().schema_type(Type::String))
        .required("message");
    Answer::Data(schema.build().into(), Vec::new())
}

/// A cursor page: `{"items": […], "next_cursor": "…" | null}`.
pub(super) fn page() -> Answer {
    let next = ObjectBuilder::new().schema_type(SchemaType::from_iter([Type::String, Type::Null]));
    let schema = any_object()
        .property("items", ArrayBuilder::new().items(any_object()))
        .property("next_cursor", next)
        .required("items");
    Answer::Data(schema.build().into(), Vec::new())
}

/// A JSON document of its own (no envelope).
pub(super) fn raw_json() -> Answer {
    Answer::Raw(&["application/json"], any_object().build().into())
}

/// Text (no envelope).
pub(super) fn text() -> Answer {
    Answer::Raw(
        &["text/plain"],
        ObjectBuilder::new().schema_type(Type::String).build().into(),
    )
}

/// A picture.
pub(super) fn image() -> Answer {
    Answer::Raw(&["image/png", "image/jpeg", "image/webp", "image/gif"], binary())
}

fn binary() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/octet-stream")
        .build()
        .into()
}
