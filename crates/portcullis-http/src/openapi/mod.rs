//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the API, built from the code.
//!
//! Request bodies, the views answered and the query parameters are the schemas of the wire
//! types themselves (`utoipa` derives on `dto`); each operation below names its method, path,
//! caller, body and success answers. Every operation also answers errors in the envelope
//! (`default`), whose `code` is one of [`ERROR_CODES`]. The route-coverage test checks that this
//! table and the routes registered (`crate::routes()`) are the same set, and a schema-based
//! fuzzer checks the answers of a live server against it.

mod ops;
mod table;

use std::sync::OnceLock;

use actix_web::http::Method;
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, ResponsesBuilder,
};

use self::ops::{Answer, Caller, Op};

/// Every `error.code` the API answers with.
pub const ERROR_CODES: &[&str] = &[
    "account_disabled",
    "admin_key_required",
    "captcha_invalid",
    "captcha_required",
    "captcha_unavailable",
    "email_not_verified",
    "email_taken",
    "forbidden",
    "fresh_session_required",
    "headers_too_large",
    "internal_error",
    "invalid_code",
    "invalid_credentials",
    "invalid_image",
    "invalid_or_expired_token",
    "invalid_refresh_token",
    "invalid_token",
    "ip_authorization_required",
    "malformed_body",
    "method_not_allowed",
    "mfa_already_enabled",
    "mfa_locked",
    "mfa_not_enabled",
    "mfa_required",
    "missing_token",
    "name_taken",
    "no_capacity",
    "node_not_found",
    "not_found",
    "payload_too_large",
    "plan_not_found",
    "rate_limited",
    "refresh_token_reused",
    "request_timeout",
    "server_busy",
    "service_unavailable",
    "slug_taken",
    "tenant_not_found",
    "too_many_attempts",
    "unsupported_media_type",
    "uri_too_long",
    "user_not_found",
    "username_taken",
    "validation_failed",
];

/// The document, as JSON (built once).
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_string(&build()).unwrap_or_else(|_| "{}".to_owned()))
}

/// Every (method, path) the document describes.
pub fn operations() -> Vec<(Method, &'static str)> {
    table::operations().into_iter().map(|op| (op.method, op.path)).collect()
}

/// Builds the document from the table.
fn build() -> OpenApi {
    let mut paths = Paths::new();
    let mut named = Vec::new();
    for op in table::operations() {
        let method = http_method(&op.method);
        let path = op.path;
        named.extend(op.named.iter().cloned());
        paths.add_path_operation(path, vec![method], operation(op));
    }
    ops::named::<crate::error::FieldDetail>(&mut named);
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.dedup_by(|a, b| a.0 == b.0);
    let bearer = |format: &str, description: &str| {
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format(format)
                .description(Some(description))
                .build(),
        )
    };
    let components = ComponentsBuilder::new()
        .schemas_from_iter(named)
        .schema("Error", error_envelope())
        .security_scheme(
            "accessToken",
            bearer("JWT", "A user's access token, from login, refresh or verification."),
        )
        .security_scheme(
            "adminKey",
            bearer("pca_…", "An operator's admin key (`portcullis admin-key create`)."),
        )
        .build();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Portcullis")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Authentication and accounts. Every JSON answer is an envelope: \
                     `{\"success\": true, \"data\": …}` or `{\"success\": false, \"error\": {\"code\", \"message\", \"details\"?}}`. \
                     Command bodies are JSON or HTML form encoded.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components))
        .build()
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        _ => HttpMethod::Get,
    }
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn operation(op: Op) -> Operation {
    let id = format!("{}{}", op.method.as_str().to_ascii_lowercase(), op.path)
        .replace(['/', '.', '-'], "_")
        .replace(['{', '}'], "");
    let mut b = OperationBuilder::new()
        .tag(op.tag)
        .summary(Some(op.summary))
        .operation_id(Some(id));
    for name in op
        .path
        .split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
    {
        b = b.parameter(
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(string())),
        );
    }
    if op.tenant_header {
        b = b.parameter(
            ParameterBuilder::new()
                .name("X-Tenant")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "The brand's slug (or `tenant_slug` in the body); the default brand when neither is given.",
                ))
                .schema(Some(string())),
        );
    }
    for param in op.query {
        b = b.parameter(param);
    }
    if let Some((types, schema)) = op.body {
        // Not required: an empty body reads as `{}`, and the fields say what is required.
        let mut body = RequestBodyBuilder::new().required(Some(Required::False));
        for content_type in types {
            body = body.content(
                *content_type,
                ContentBuilder::new().schema(Some(schema.clone())).build(),
            );
        }
        if let Some(form) = op.form {
            body = body.content("multipart/form-data", ContentBuilder::new().schema(Some(form)).build());
        }
        b = b.request_body(Some(body.build()));
    }
    let mut responses = ResponsesBuilder::new();
    for (status, description, answer) in op.answers {
        let mut response = ResponseBuilder::new().description(description);
        match answer {
            Answer::Data(schema, _) => {
                response = response.content(
                    "application/json",
                    ContentBuilder::new().schema(Some(success(schema))).build(),
                );
            }
            Answer::Empty => {}
            Answer::Raw(types, schema) => {
                for content_type in types {
                    response = response.content(
                        *content_type,
                        ContentBuilder::new().schema(Some(schema.clone())).build(),
                    );
                }
            }
        }
        responses = responses.response(status.to_string(), response.build());
    }
    let error = ResponseBuilder::new()
        .description("An error, in the envelope: 4xx for the request, 5xx for the service")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(RefOr::Ref(Ref::from_schema_name("Error"))))
                .build(),
        );
    b = b.responses(responses.response("default", error.build()).build());
    match op.caller {
        Caller::Anyone => {}
        Caller::User => b = b.security(SecurityRequirement::new("accessToken", Vec::<String>::new())),
        Caller::Operator => b = b.security(SecurityRequirement::new("adminKey", Vec::<String>::new())),
    }
    b.build()
}

/// `{"success": true, "data": <data>}`.
fn success(data: RefOr<utoipa::openapi::schema::Schema>) -> RefOr<utoipa::openapi::schema::Schema> {
    envelope(true, "data", data).build().into()
}

/// `{"success": false, "error": {"code", "message", "details"?}}`.
fn error_envelope() -> ObjectBuilder {
    let error = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("code", string().enum_values(Some(ERROR_CODES.iter().copied())))
        .property("message", string())
        .property(
            "details",
            ArrayBuilder::new().items(RefOr::Ref(Ref::from_schema_name("FieldDetail"))),
        )
        .required("code")
        .required("message");
    envelope(false, "error", error.build().into())
}

/// `{"success": <success>, <field>: <body>}`, both required.
fn envelope(success: bool, field: &str, body: RefOr<utoipa::openapi::schema::Schema>) -> ObjectBuilder {
    let flag = ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([success]));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("success", flag)
        .property(field, body)
        .required("success")
        .required(field)
}
