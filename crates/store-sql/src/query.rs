//! Statements, the values bound to them and the rows they return, in the five kinds of value
//! both backends share. The shape follows sqlx (`query(..).bind(..).fetch_all(..)`), so the SQL
//! code reads as it would against one driver.

use crate::{Executor, Output, Want};
use std::marker::PhantomData;
use std::sync::Arc;
use store::{Error, Result};

/// The kinds of value that cross the backend contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Int,
    Text,
    Bytes,
}

/// One bound argument or one column of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// NULL, with the kind it stands in for (PostgreSQL types every parameter).
    Null(Kind),
    Bool(bool),
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// A Rust value that can be bound to a placeholder.
pub trait Bind {
    /// The kind a NULL of this type is bound as.
    const KIND: Kind;
    fn into_value(self) -> Value;
}

macro_rules! bind_as {
    ($kind:ident, $variant:ident: $($t:ty => $conv:expr),* $(,)?) => {$(
        impl Bind for $t {
            const KIND: Kind = Kind::$kind;
            fn into_value(self) -> Value {
                let convert: fn($t) -> _ = $conv;
                Value::$variant(convert(self))
            }
        }
    )*};
}

bind_as!(Bool, Bool: bool => |b| b);
bind_as!(Int, Int: i64 => |i| i, i32 => i64::from, u32 => i64::from);
bind_as!(Text, Text: String => |s| s, &str => str::to_owned, &String => String::clone);
bind_as!(Bytes, Bytes: Vec<u8> => |b| b, &[u8] => <[u8]>::to_vec, &Vec<u8> => Vec::clone);

impl<T: Bind> Bind for Option<T> {
    const KIND: Kind = T::KIND;
    fn into_value(self) -> Value {
        match self {
            Some(v) => v.into_value(),
            None => Value::Null(T::KIND),
        }
    }
}

impl<'a, T> Bind for &'a Option<T>
where
    &'a T: Bind,
{
    const KIND: Kind = <&'a T as Bind>::KIND;
    fn into_value(self) -> Value {
        self.as_ref().into_value()
    }
}

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    /// `None` when the value is of another kind (the caller names the column in the error).
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
}

impl FromValue for i32 {
    fn from_value(value: &Value) -> Option<Self> {
        i64::from_value(value).and_then(|i| i32::try_from(i).ok())
    }
}

impl FromValue for bool {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bool(b) => Some(*b),
            // SQLite keeps booleans as the integers 0 and 1.
            Value::Int(0) => Some(false),
            Value::Int(1) => Some(true),
            _ => None,
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Bytes(b) => Some(b.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null(_) => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// How a column is named when read: by name or by position.
pub trait ColumnIndex: std::fmt::Debug + Copy {
    fn position(self, columns: &[String]) -> Option<usize>;
}

impl ColumnIndex for &str {
    fn position(self, columns: &[String]) -> Option<usize> {
        columns.iter().position(|c| c == self)
    }
}

impl ColumnIndex for usize {
    fn position(self, columns: &[String]) -> Option<usize> {
        (self < columns.len()).then_some(self)
    }
}

/// One row of a result: its values, with the result's column names shared by every row.
#[derive(Clone, Debug)]
pub struct Row {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl Row {
    /// Builds a row; `columns` is shared by all rows of one result.
    pub fn new(columns: Arc<[String]>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    /// The column `index` as a `T`; an error names the column when it is missing or of another kind.
    pub fn try_get<T: FromValue, I: ColumnIndex>(&self, index: I) -> Result<T> {
        let at =
            index.position(&self.columns).ok_or_else(|| Error::Other(format!("the result has no column {index:?}")))?;
        T::from_value(&self.values[at]).ok_or_else(|| {
            Error::Other(format!(
                "column {} holds {:?}, not a {}",
                self.columns[at],
                self.values[at],
                std::any::type_name::<T>()
            ))
        })
    }
}

/// What a statement that returns no rows reports.
#[derive(Clone, Copy, Debug)]
pub struct QueryResult {
    rows_affected: u64,
}

impl QueryResult {
    pub fn rows_affected(&self) -> u64 {
        self.rows_affected
    }
}

/// A statement with its bound arguments.
#[must_use = "a query does nothing until it is run"]
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Value>,
}

/// A statement for `sql`; bind its placeholders in order.
pub fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new() }
}

impl<'q> Query<'q> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.args.push(value.into_value());
        self
    }

    pub async fn execute(self, on: impl Executor) -> Result<QueryResult> {
        match on.run(self.sql, self.args, Want::Changes).await? {
            Output::Changed(n) => Ok(QueryResult { rows_affected: n }),
            Output::Rows(rows) => Ok(QueryResult { rows_affected: rows.len() as u64 }),
        }
    }

    pub async fn fetch_all(self, on: impl Executor) -> Result<Vec<Row>> {
        match on.run(self.sql, self.args, Want::Rows).await? {
            Output::Rows(rows) => Ok(rows),
            Output::Changed(_) => Ok(Vec::new()),
        }
    }

    pub async fn fetch_optional(self, on: impl Executor) -> Result<Option<Row>> {
        match on.run(self.sql, self.args, Want::FirstRow).await? {
            Output::Rows(rows) => Ok(rows.into_iter().next()),
            Output::Changed(_) => Ok(None),
        }
    }

    /// The first row; `NotFound` when there is none.
    pub async fn fetch_one(self, on: impl Executor) -> Result<Row> {
        self.fetch_optional(on).await?.ok_or(Error::NotFound)
    }
}

/// A statement whose rows each hold one value of interest, in the first column.
#[must_use = "a query does nothing until it is run"]
pub struct QueryScalar<'q, O> {
    query: Query<'q>,
    output: PhantomData<fn() -> O>,
}

/// A statement for `sql` whose first column is read as an `O`.
pub fn query_scalar<O: FromValue>(sql: &str) -> QueryScalar<'_, O> {
    QueryScalar { query: query(sql), output: PhantomData }
}

impl<O: FromValue> QueryScalar<'_, O> {
    pub fn bind(mut self, value: impl Bind) -> Self {
        self.query = self.query.bind(value);
        self
    }

    pub async fn fetch_all(self, on: impl Executor) -> Result<Vec<O>> {
        self.query.fetch_all(on).await?.iter().map(|r| r.try_get(0)).collect()
    }

    pub async fn fetch_optional(self, on: impl Executor) -> Result<Option<O>> {
        self.query.fetch_optional(on).await?.map(|r| r.try_get(0)).transpose()
    }

    /// The first row's value; `NotFound` when there is no row.
    pub async fn fetch_one(self, on: impl Executor) -> Result<O> {
        self.query.fetch_one(on).await?.try_get(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row::new(
            vec!["n".to_owned(), "flag".to_owned(), "missing".to_owned()].into(),
            vec![Value::Int(1), Value::Int(0), Value::Null(Kind::Text)],
        )
    }

    #[test]
    fn columns_are_read_by_name_or_position_and_kinds_are_checked() {
        let r = row();
        assert_eq!(r.try_get::<i64, _>("n").unwrap(), 1);
        assert_eq!(r.try_get::<i64, _>(0).unwrap(), 1);
        assert!(!r.try_get::<bool, _>("flag").unwrap(), "SQLite's 0 reads as false");
        assert_eq!(r.try_get::<Option<String>, _>("missing").unwrap(), None);
        let wrong = r.try_get::<String, _>("n").unwrap_err().to_string();
        assert!(wrong.contains("column n"), "{wrong}");
        assert!(r.try_get::<String, _>("missing").is_err(), "NULL is not a String");
        assert!(r.try_get::<i64, _>("nope").is_err());
        assert!(r.try_get::<i64, _>(7).is_err());
    }

    #[test]
    fn a_null_keeps_the_kind_of_what_it_stands_for() {
        assert_eq!(None::<i64>.into_value(), Value::Null(Kind::Int));
        assert_eq!(None::<&[u8]>.into_value(), Value::Null(Kind::Bytes));
        assert_eq!((&Some("a".to_owned())).into_value(), Value::Text("a".to_owned()));
        assert_eq!(Some(3_u32).into_value(), Value::Int(3));
    }
}
