//! Values of any serde type (feature `serde`), stored in postcard's format.
//!
//! Postcard: a stable, documented wire format (its 1.x specification), compact (varint
//! integers, no field names or padding), maintained, and small (no_std). Its encodings
//! do not sort as the values do, so `Postcard<T>` is a value type, not a key type: keys
//! use the built-in order-preserving encodings.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::codec::Value;
use crate::error::{Error, Result};

/// A value of serde type `T`, stored as postcard bytes and read back as an owned `T`.
///
/// ```
/// use mdbx_lite::{Env, Postcard, TableDef};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct User { name: String, admin: bool, logins: Vec<u64> }
///
/// const USERS: TableDef<u64, Postcard<User>> = TableDef::new("users");
///
/// # let dir = tempfile::tempdir().unwrap();
/// # let env = Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let ada = User { name: "ada".into(), admin: true, logins: vec![1, 5] };
/// wtx.create(&USERS)?.put(1, &ada)?;
/// assert_eq!(wtx.create(&USERS)?.get(1)?, Some(ada));
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct Postcard<T>(PhantomData<T>);

impl<T: Serialize + DeserializeOwned> Value for Postcard<T> {
    type Ref<'a> = T;
    type Bytes<'a> = Vec<u8>;

    fn encode(value: &T) -> Result<Vec<u8>> {
        postcard::to_allocvec(value)
            .map_err(|e| Error::Invalid(format!("postcard cannot encode the value: {e}")))
    }

    fn decode(bytes: &[u8]) -> Result<T> {
        let (value, rest) = postcard::take_from_bytes(bytes)
            .map_err(|e| Error::Decode(format!("not postcard of this type: {e}")))?;
        if !rest.is_empty() {
            return Err(Error::Decode(format!(
                "{} bytes after a postcard value",
                rest.len()
            )));
        }
        Ok(value)
    }
}
