//! The `settings!` macro: a struct of settings declared as one table (MMTk's `options!` is the
//! model), with the environment handling kept strict.
//!
//! # Input
//!
//! The struct's attributes, then one entry per setting:
//!
//! ```text
//! /// One line: what the setting does (the "meaning" column of the settings table).
//! ///
//! /// Further paragraphs (the field's rustdoc only).
//! field_name: FieldType {
//!     default: <expr>,
//!     env: GC_VARIABLE,
//!     values: <expr: a value format from `values.rs`>,
//!     setter: with_field_name,
//! },
//! ```
//!
//! # Output
//!
//! - the struct, with one `pub` field per setting documented by its doc lines plus its
//!   variable and setter;
//! - `Default`, from the `default:`s;
//! - one `with_*` builder method per setting;
//! - `Config::apply_vars`: each variable that is set is parsed and range-checked by its format,
//!   and a bad one is a [`ConfigError`](super::ConfigError) naming it, its text and what the
//!   format accepts (never a fall-back to the default);
//! - `Config::validate`: the same range checks on values set in code;
//! - `Config::settings`: one [`Setting`](super::Setting) per entry, from which the settings
//!   table in the docs is generated (and checked against the book and README by a test).
//!
//! The setter's name is written out because `macro_rules!` cannot build identifiers; a unit
//! test checks that it is `with_` followed by the field name.

/// See the module docs.
macro_rules! settings {
    (
        $(#[$attr:meta])*
        pub struct $Config:ident {
            $(
                #[doc = $summary:literal]
                $(#[doc = $doc:literal])*
                $field:ident : $ty:ty {
                    default: $default:expr,
                    env: $var:ident,
                    values: $format:expr,
                    setter: $setter:ident $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        pub struct $Config {
            $(
                #[doc = $summary]
                $(#[doc = $doc])*
                #[doc = ""]
                #[doc = concat!(
                    "Environment variable `", stringify!($var), "`; set with [`", stringify!($Config), "::",
                    stringify!($setter), "`]."
                )]
                pub $field: $ty,
            )*
        }

        impl Default for $Config {
            fn default() -> Self {
                $Config { $($field: $default,)* }
            }
        }

        impl $Config {
            $(
                #[doc = concat!("Set [`", stringify!($Config), "::", stringify!($field), "`]:", $summary)]
                #[must_use]
                pub fn $setter(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }
            )*

            /// Apply variables read through `get` (the testable core of
            /// [`Config::from_env`]): each `GC_*` variable that `get` returns overrides its
            /// setting.
            ///
            /// # Errors
            /// The first variable that does not parse or is out of range.
            pub fn apply_vars(mut self, get: impl Fn(&str) -> Option<String>) -> Result<$Config, ConfigError> {
                $(
                    if let Some(text) = get(stringify!($var)) {
                        self.$field = parse_var::<$ty>(stringify!($var), &text, &$format)?;
                    }
                )*
                Ok(self)
            }

            /// Check the ranges of values set in code (the same ranges as the variables').
            ///
            /// # Errors
            /// The first field out of range, named by its field name (e.g. `mark_workers`).
            pub fn validate(&self) -> Result<(), ConfigError> {
                $(
                    check_field::<$ty>(stringify!($field), &self.$field, &$format)?;
                )*
                Ok(())
            }

            /// Every setting, in declaration order: its field, setter and variable, what the
            /// variable accepts, its default and its value in `self`, spelled as the variable
            /// would be.
            ///
            /// ```
            /// use gc_runtime::Config;
            ///
            /// let settings = Config::default().with_mark_workers(4).settings();
            /// let workers = settings.iter().find(|s| s.variable == "GC_MARK_WORKERS").unwrap();
            /// assert_eq!(workers.accepts, "an integer from 1 to 256");
            /// assert_eq!((workers.default.as_str(), workers.value.as_str()), ("1", "4"));
            /// ```
            pub fn settings(&self) -> Vec<Setting> {
                let defaults = $Config::default();
                vec![$(
                    describe::<$ty>(
                        Setting {
                            field: stringify!($field),
                            setter: stringify!($setter),
                            variable: stringify!($var),
                            summary: $summary.trim(),
                            accepts: String::new(),
                            default: String::new(),
                            value: String::new(),
                        },
                        &$format,
                        &defaults.$field,
                        &self.$field,
                    ),
                )*]
            }
        }
    };
}

pub(super) use settings;
