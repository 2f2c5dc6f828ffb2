//! OpenAPI schemas for lists of strings with limits, for `#[schema(schema_with = ...)]`:
//! utoipa's field attributes can bound a list's length but not each item's, and every field a
//! client sends documents the limit the server enforces (#14).

/// Defines `fn $name() -> utoipa::openapi::schema::Array`: a list of at most `max_items` strings,
/// each at most `max_length` characters (optionally matching `pattern`, or in `format`),
/// `nullable` when the field may be left out or null.
#[macro_export]
macro_rules! string_list_schema {
    ($vis:vis fn $name:ident: max_items = $n:expr, max_length = $len:expr
        $(, pattern = $pattern:expr)? $(, format = $format:ident)? $(, nullable = $nullable:expr)?
        $(, description = $description:expr)? $(,)?) => {
        $vis fn $name() -> utoipa::openapi::schema::Array {
            #[allow(unused_imports)]
            use utoipa::openapi::schema::{ArrayBuilder, KnownFormat, ObjectBuilder, SchemaFormat, SchemaType, Type};
            #[allow(unused_mut)]
            let mut item = ObjectBuilder::new().schema_type(Type::String).max_length(Some($len));
            $( item = item.pattern(Some($pattern)); )?
            $( item = item.format(Some(SchemaFormat::KnownFormat(KnownFormat::$format))); )?
            #[allow(unused_mut)]
            let mut list = ArrayBuilder::new().items(item).max_items(Some($n));
            $( if $nullable {
                list = list.schema_type(SchemaType::from_iter([Type::Array, Type::Null]));
            } )?
            $( list = list.description(Some($description)); )?
            list.build()
        }
    };
}
