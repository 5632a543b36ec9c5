//! Typed keys and values: how a Rust type is stored as bytes and read back.
//!
//! [`Value`] is any type a table stores; [`Key`] a value that also fixes the table's
//! key order; [`KeyPart`] a key whose encoding can be followed by more bytes (an
//! element of a tuple, the payload of an `Option`). Reads decode straight from the map:
//! `&str`, `&[u8]` and `&[u8; N]` borrow from it, integers are read from their bytes.
//!
//! Invariant for every [`KeyPart`] (and so every key in bytewise order): the bytes of
//! `encode` compare bytewise as the values compare, and so do the bytes of
//! `encode_part`, which moreover end where the value ends (no part's bytes are a proper
//! prefix of another's followed by anything that sorts differently). Integers are
//! big-endian, signed ones with the sign bit flipped; strings and byte strings inside a
//! tuple end with a 0 byte (and may not contain one).

use std::marker::PhantomData;

use crate::api::order::KeyOrder;
use crate::error::{Error, Result};

/// A type a table stores: its bytes, and what a read hands back.
///
/// Implement it for a type of your own in a few lines (and [`KeyPart`] to use it as a
/// key or tuple element):
///
/// ```
/// use mdbx_lite::{Error, Result, Value};
///
/// /// A point stored as two little-endian f32s.
/// struct Point { x: f32, y: f32 }
///
/// impl Value for Point {
///     type Ref<'a> = Point;
///     type Bytes<'a> = [u8; 8];
///     const WIDTH: Option<usize> = Some(8);
///     fn encode<'a>(p: &'a Point) -> Result<[u8; 8]> {
///         let mut b = [0; 8];
///         b[..4].copy_from_slice(&p.x.to_le_bytes());
///         b[4..].copy_from_slice(&p.y.to_le_bytes());
///         Ok(b)
///     }
///     fn decode(b: &[u8]) -> Result<Point> {
///         let b: [u8; 8] = b.try_into().map_err(|_| Error::Decode("a point is 8 bytes".into()))?;
///         let f = |i: usize| f32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
///         Ok(Point { x: f(0), y: f(4) })
///     }
/// }
/// # let p = Point::decode(&Point::encode(&Point { x: 1.0, y: -2.0 })?)?;
/// # assert_eq!((p.x, p.y), (1.0, -2.0));
/// # Ok::<(), Error>(())
/// ```
pub trait Value {
    /// What a read hands back: borrowed from the map where the type allows
    /// (`&'a str` for `&str`), else an owned value.
    type Ref<'a>;
    /// The encoded bytes of a value being written (borrowed where the value is bytes).
    type Bytes<'a>: AsRef<[u8]>;
    /// The length of every encoding, if they all have one (dup-sort tables of such
    /// values are dup-fixed).
    const WIDTH: Option<usize> = None;

    /// The bytes to store for `value`.
    ///
    /// # Errors
    /// `Error::Invalid` for a value the encoding cannot hold.
    fn encode<'a>(value: &'a Self::Ref<'_>) -> Result<Self::Bytes<'a>>;

    /// The value stored as `bytes`.
    ///
    /// # Errors
    /// `Error::Decode` if `bytes` are not an encoding of this type (a table written
    /// with another type).
    fn decode(bytes: &[u8]) -> Result<Self::Ref<'_>>;
}

/// A value that can be a table's key: it names the order the table sorts in.
///
/// Every [`KeyPart`] is a key in bytewise order (their encodings sort as the values
/// do). [`Integer`] keys are native-endian in LMDB's integer order, which LMDB's
/// `MDB_INTEGERKEY` tables use.
pub trait Key: Value {
    /// The order of the table's keys (for a typed table, the order it is created with
    /// and must have when opened).
    const ORDER: KeyOrder;
}

/// A key whose encoding sorts bytewise as its values do and can be followed by more:
/// a tuple element or an `Option` payload. See the module invariant.
pub trait KeyPart: Value {
    /// Append `value`'s bytes as a part followed by others.
    ///
    /// # Errors
    /// `Error::Invalid` for a value that cannot be a part (a string or byte string with
    /// a 0 byte inside a tuple).
    fn encode_part(value: &Self::Ref<'_>, out: &mut Encoded) -> Result<()>;

    /// The part at the start of `bytes` and the bytes after it.
    ///
    /// # Errors
    /// `Error::Decode` if `bytes` do not start with such a part.
    fn decode_part(bytes: &[u8]) -> Result<(Self::Ref<'_>, &[u8])>;
}

impl<T: KeyPart> Key for T {
    const ORDER: KeyOrder = KeyOrder::Bytes;
}

/// Bytes an encoding builds (tuples, `Option`s, [`KeyPart::encode_part`]): inline up
/// to 64 bytes, so composite keys cost no allocation, on the heap beyond.
pub struct Encoded {
    inline: [u8; Encoded::INLINE],
    len: usize,
    /// Set once the bytes outgrow the inline room; holds all of them then.
    heap: Option<Vec<u8>>,
}

impl Encoded {
    const INLINE: usize = 64;

    /// No bytes yet.
    pub fn new() -> Encoded {
        Encoded {
            inline: [0; Encoded::INLINE],
            len: 0,
            heap: None,
        }
    }

    /// Append one byte.
    pub fn push(&mut self, b: u8) {
        self.extend_from_slice(&[b]);
    }

    /// Append `bytes`.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if let Some(v) = &mut self.heap {
            v.extend_from_slice(bytes);
        } else if self.len + bytes.len() <= Encoded::INLINE {
            self.inline[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            let mut v = Vec::with_capacity(2 * (self.len + bytes.len()));
            v.extend_from_slice(&self.inline[..self.len]);
            v.extend_from_slice(bytes);
            self.heap = Some(v);
        }
    }
}

impl Default for Encoded {
    fn default() -> Self {
        Encoded::new()
    }
}

impl AsRef<[u8]> for Encoded {
    fn as_ref(&self) -> &[u8] {
        match &self.heap {
            Some(v) => v,
            None => &self.inline[..self.len],
        }
    }
}

fn wrong_len(what: &str, len: usize, want: usize) -> Error {
    Error::Decode(format!("{len} bytes are not a {what} ({want} bytes)"))
}

/// The first `n` bytes of `bytes` and the rest, for fixed-width parts.
fn split_fixed<'a>(what: &str, bytes: &'a [u8], n: usize) -> Result<(&'a [u8], &'a [u8])> {
    if bytes.len() < n {
        return Err(wrong_len(what, bytes.len(), n));
    }
    Ok(bytes.split_at(n))
}

/// `Value` for integer type `$t` as `$ty`: its fixed-width bytes by `$to` / `$from`.
macro_rules! int_value {
    ($ty:ty, $t:ty, $to:ident, $from:ident) => {
        impl Value for $ty {
            type Ref<'a> = $t;
            type Bytes<'a> = [u8; std::mem::size_of::<$t>()];
            const WIDTH: Option<usize> = Some(std::mem::size_of::<$t>());
            #[inline]
            fn encode(value: &$t) -> Result<Self::Bytes<'_>> {
                Ok(value.$to())
            }
            #[inline]
            fn decode(bytes: &[u8]) -> Result<$t> {
                match bytes.try_into() {
                    Ok(b) => Ok(<$t>::$from(b)),
                    Err(_) => Err(wrong_len(
                        stringify!($t),
                        bytes.len(),
                        std::mem::size_of::<$t>(),
                    )),
                }
            }
        }
    };
}

/// Fixed-width parts: the encoding as is.
macro_rules! fixed_part {
    ($t:ty, $what:expr) => {
        impl KeyPart for $t {
            fn encode_part(value: &Self::Ref<'_>, out: &mut Encoded) -> Result<()> {
                out.extend_from_slice(Self::encode(value)?.as_ref());
                Ok(())
            }
            fn decode_part(bytes: &[u8]) -> Result<(Self::Ref<'_>, &[u8])> {
                let n = Self::WIDTH.unwrap_or(0);
                let (head, rest) = split_fixed($what, bytes, n)?;
                Ok((Self::decode(head)?, rest))
            }
        }
    };
}

// Unsigned integers: big-endian, so that their bytes sort as they do.
macro_rules! unsigned {
    ($($t:ty),*) => {$(
        int_value!($t, $t, to_be_bytes, from_be_bytes);
        fixed_part!($t, stringify!($t));
    )*};
}
unsigned!(u8, u16, u32, u64, u128);

// Signed integers: big-endian with the sign bit flipped, so that negative values sort
// before positive ones bytewise.
macro_rules! signed {
    ($($t:ty => $u:ty),*) => {$(
        impl Value for $t {
            type Ref<'a> = $t;
            type Bytes<'a> = [u8; std::mem::size_of::<$t>()];
            const WIDTH: Option<usize> = Some(std::mem::size_of::<$t>());
            #[inline]
            fn encode<'a>(value: &'a $t) -> Result<Self::Bytes<'a>> {
                Ok(((*value as $u) ^ (1 << (<$u>::BITS - 1))).to_be_bytes())
            }
            #[inline]
            fn decode(bytes: &[u8]) -> Result<$t> {
                let u = <$u as Value>::decode(bytes)
                    .map_err(|_| wrong_len(stringify!($t), bytes.len(), std::mem::size_of::<$t>()))?;
                Ok((u ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
        impl KeyPart for $t {
            fn encode_part(value: &$t, out: &mut Encoded) -> Result<()> {
                out.extend_from_slice(&Self::encode(value)?);
                Ok(())
            }
            fn decode_part(bytes: &[u8]) -> Result<($t, &[u8])> {
                let (head, rest) = split_fixed(stringify!($t), bytes, std::mem::size_of::<$t>())?;
                Ok((Self::decode(head)?, rest))
            }
        }
    )*};
}
signed!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

impl Value for bool {
    type Ref<'a> = bool;
    type Bytes<'a> = [u8; 1];
    const WIDTH: Option<usize> = Some(1);
    fn encode(value: &bool) -> Result<[u8; 1]> {
        Ok([u8::from(*value)])
    }
    fn decode(bytes: &[u8]) -> Result<bool> {
        match bytes {
            [0] => Ok(false),
            [1] => Ok(true),
            _ => Err(Error::Decode(format!("{bytes:02x?} is not a bool"))),
        }
    }
}
fixed_part!(bool, "bool");

impl Value for char {
    type Ref<'a> = char;
    type Bytes<'a> = [u8; 4];
    const WIDTH: Option<usize> = Some(4);
    fn encode(value: &char) -> Result<[u8; 4]> {
        Ok(u32::from(*value).to_be_bytes())
    }
    fn decode(bytes: &[u8]) -> Result<char> {
        let u = <u32 as Value>::decode(bytes).map_err(|_| wrong_len("char", bytes.len(), 4))?;
        char::from_u32(u).ok_or_else(|| Error::Decode(format!("{u:#x} is not a char")))
    }
}
fixed_part!(char, "char");

impl Value for () {
    type Ref<'a> = ();
    type Bytes<'a> = [u8; 0];
    const WIDTH: Option<usize> = Some(0);
    fn encode(_: &()) -> Result<[u8; 0]> {
        Ok([])
    }
    fn decode(bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(wrong_len("()", bytes.len(), 0))
        }
    }
}
fixed_part!((), "()");

impl<const N: usize> Value for [u8; N] {
    type Ref<'a> = &'a [u8; N];
    type Bytes<'a> = &'a [u8];
    const WIDTH: Option<usize> = Some(N);
    #[inline]
    fn encode<'a>(value: &'a &[u8; N]) -> Result<&'a [u8]> {
        Ok(&value[..])
    }
    #[inline]
    fn decode(bytes: &[u8]) -> Result<&[u8; N]> {
        bytes
            .try_into()
            .map_err(|_| wrong_len("byte array", bytes.len(), N))
    }
}

impl<const N: usize> KeyPart for [u8; N] {
    fn encode_part(value: &&[u8; N], out: &mut Encoded) -> Result<()> {
        out.extend_from_slice(&value[..]);
        Ok(())
    }
    fn decode_part(bytes: &[u8]) -> Result<(&[u8; N], &[u8])> {
        let (head, rest) = split_fixed("byte array", bytes, N)?;
        Ok((Self::decode(head)?, rest))
    }
}

/// A variable-length part: its bytes and a 0 byte, which may not occur inside it (a
/// shorter part then sorts first, as a prefix does).
fn encode_delimited(bytes: &[u8], out: &mut Encoded) -> Result<()> {
    if bytes.contains(&0) {
        return Err(Error::Invalid(
            "a string or byte string followed by more tuple elements may not contain a 0 \
             byte (it ends the element); use a fixed-size array for binary ids"
                .into(),
        ));
    }
    out.extend_from_slice(bytes);
    out.push(0);
    Ok(())
}

fn decode_delimited(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => Ok((&bytes[..end], &bytes[end + 1..])),
        None => Err(Error::Decode(
            "a tuple's string element has no end (0 byte)".into(),
        )),
    }
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|e| Error::Decode(format!("not UTF-8: {e}")))
}

impl Value for &str {
    type Ref<'a> = &'a str;
    type Bytes<'a> = &'a [u8];
    #[inline]
    fn encode<'a>(value: &'a &str) -> Result<&'a [u8]> {
        Ok(value.as_bytes())
    }
    #[inline]
    fn decode(bytes: &[u8]) -> Result<&str> {
        utf8(bytes)
    }
}

impl KeyPart for &str {
    fn encode_part(value: &&str, out: &mut Encoded) -> Result<()> {
        encode_delimited(value.as_bytes(), out)
    }
    fn decode_part(bytes: &[u8]) -> Result<(&str, &[u8])> {
        let (s, rest) = decode_delimited(bytes)?;
        Ok((utf8(s)?, rest))
    }
}

impl Value for String {
    type Ref<'a> = String;
    type Bytes<'a> = &'a [u8];
    fn encode(value: &String) -> Result<&[u8]> {
        Ok(value.as_bytes())
    }
    fn decode(bytes: &[u8]) -> Result<String> {
        utf8(bytes).map(str::to_owned)
    }
}

impl KeyPart for String {
    fn encode_part(value: &String, out: &mut Encoded) -> Result<()> {
        encode_delimited(value.as_bytes(), out)
    }
    fn decode_part(bytes: &[u8]) -> Result<(String, &[u8])> {
        let (s, rest) = decode_delimited(bytes)?;
        Ok((utf8(s)?.to_owned(), rest))
    }
}

impl Value for &[u8] {
    type Ref<'a> = &'a [u8];
    type Bytes<'a> = &'a [u8];
    #[inline]
    fn encode<'a>(value: &'a &[u8]) -> Result<&'a [u8]> {
        Ok(value)
    }
    #[inline]
    fn decode(bytes: &[u8]) -> Result<&[u8]> {
        Ok(bytes)
    }
}

impl KeyPart for &[u8] {
    fn encode_part(value: &&[u8], out: &mut Encoded) -> Result<()> {
        encode_delimited(value, out)
    }
    fn decode_part(bytes: &[u8]) -> Result<(&[u8], &[u8])> {
        decode_delimited(bytes)
    }
}

impl Value for Vec<u8> {
    type Ref<'a> = Vec<u8>;
    type Bytes<'a> = &'a [u8];
    fn encode(value: &Vec<u8>) -> Result<&[u8]> {
        Ok(value)
    }
    fn decode(bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(bytes.to_vec())
    }
}

impl KeyPart for Vec<u8> {
    fn encode_part(value: &Vec<u8>, out: &mut Encoded) -> Result<()> {
        encode_delimited(value, out)
    }
    fn decode_part(bytes: &[u8]) -> Result<(Vec<u8>, &[u8])> {
        decode_delimited(bytes).map(|(b, rest)| (b.to_vec(), rest))
    }
}

/// `None` is one 0 byte, `Some(v)` a 1 byte and `v`: every `None` sorts first.
impl<T: Value> Value for Option<T> {
    type Ref<'a> = Option<T::Ref<'a>>;
    type Bytes<'a> = Encoded;
    fn encode(value: &Option<T::Ref<'_>>) -> Result<Encoded> {
        let mut out = Encoded::new();
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                out.extend_from_slice(T::encode(v)?.as_ref());
            }
        }
        Ok(out)
    }
    fn decode(bytes: &[u8]) -> Result<Option<T::Ref<'_>>> {
        match bytes.split_first() {
            Some((0, [])) => Ok(None),
            Some((1, rest)) => T::decode(rest).map(Some),
            _ => Err(Error::Decode(format!("{bytes:02x?} is not an Option"))),
        }
    }
}

impl<T: KeyPart> KeyPart for Option<T> {
    fn encode_part(value: &Option<T::Ref<'_>>, out: &mut Encoded) -> Result<()> {
        match value {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                T::encode_part(v, out)?;
            }
        }
        Ok(())
    }
    fn decode_part(bytes: &[u8]) -> Result<(Option<T::Ref<'_>>, &[u8])> {
        match bytes.split_first() {
            Some((0, rest)) => Ok((None, rest)),
            Some((1, rest)) => T::decode_part(rest).map(|(v, rest)| (Some(v), rest)),
            _ => Err(Error::Decode("an Option part without its tag".into())),
        }
    }
}

// Tuples: every element but the last as a part, the last as a whole value, so that a
// tuple of keys sorts element by element (a tuple key is a `KeyPart` when its last
// element is one too).
macro_rules! tuple {
    ($($a:ident $v:ident),* ; $z:ident $zv:ident) => {
        impl<$($a: KeyPart,)* $z: Value> Value for ($($a,)* $z,) {
            type Ref<'a> = ($($a::Ref<'a>,)* $z::Ref<'a>,);
            type Bytes<'a> = Encoded;
            const WIDTH: Option<usize> = {
                let widths = [$($a::WIDTH,)* $z::WIDTH];
                let mut total = 0;
                let mut i = 0;
                let mut fixed = true;
                while i < widths.len() {
                    match widths[i] {
                        Some(w) => total += w,
                        None => fixed = false,
                    }
                    i += 1;
                }
                if fixed { Some(total) } else { None }
            };
            fn encode(value: &Self::Ref<'_>) -> Result<Encoded> {
                let ($($v,)* $zv,) = value;
                let mut out = Encoded::new();
                $($a::encode_part($v, &mut out)?;)*
                out.extend_from_slice($z::encode($zv)?.as_ref());
                Ok(out)
            }
            fn decode(bytes: &[u8]) -> Result<Self::Ref<'_>> {
                let rest = bytes;
                $(let ($v, rest) = $a::decode_part(rest)?;)*
                Ok(($($v,)* $z::decode(rest)?,))
            }
        }
        impl<$($a: KeyPart,)* $z: KeyPart> KeyPart for ($($a,)* $z,) {
            fn encode_part(value: &Self::Ref<'_>, out: &mut Encoded) -> Result<()> {
                let ($($v,)* $zv,) = value;
                $($a::encode_part($v, out)?;)*
                $z::encode_part($zv, out)
            }
            fn decode_part(bytes: &[u8]) -> Result<(Self::Ref<'_>, &[u8])> {
                let rest = bytes;
                $(let ($v, rest) = $a::decode_part(rest)?;)*
                let ($zv, rest) = $z::decode_part(rest)?;
                Ok((($($v,)* $zv,), rest))
            }
        }
    };
}
tuple!(; B b);
tuple!(A a ; B b);
tuple!(A a, B b ; C c);
tuple!(A a, B b, C c ; D d);
tuple!(A a, B b, C c, D d ; E e);
tuple!(A a, B b, C c, D d, E e ; F f);

/// An unsigned integer (`u32` or `u64`) stored native-endian and sorted by value:
/// LMDB's `MDB_INTEGERKEY` keys and `MDB_INTEGERDUP` values, so typed tables read and
/// write tables that LMDB programs and `mdb_load` made. As a key it gives the table
/// [`KeyOrder::Integer`]; it cannot be a tuple element (its bytes do not sort bytewise).
///
/// ```
/// use mdbx_lite::{Integer, TableDef};
/// const BLOCKS: TableDef<Integer<u64>, &[u8]> = TableDef::new("blocks");
/// # let dir = tempfile::tempdir().unwrap();
/// # let env = mdbx_lite::Env::open(dir.path().join("db"))?;
/// let mut wtx = env.begin_write()?;
/// let mut blocks = wtx.create(&BLOCKS)?;
/// blocks.put(7u64, &b"seven"[..])?;
/// assert_eq!(blocks.get(7u64)?, Some(&b"seven"[..]));
/// # Ok::<(), mdbx_lite::Error>(())
/// ```
pub struct Integer<T>(PhantomData<T>);

macro_rules! integer {
    ($($t:ty),*) => {$(
        int_value!(Integer<$t>, $t, to_ne_bytes, from_ne_bytes);
        impl Key for Integer<$t> {
            const ORDER: KeyOrder = KeyOrder::Integer;
        }
    )*};
}
integer!(u32, u64);

#[cfg(test)]
mod tests {
    use super::*;

    fn enc<K: Key>(v: K::Ref<'_>) -> Vec<u8> {
        K::encode(&v).unwrap().as_ref().to_vec()
    }

    #[test]
    fn integer_encodings_sort_as_the_integers() {
        let xs = [i64::MIN, -70_000, -1, 0, 1, 255, 256, i64::MAX];
        for w in xs.windows(2) {
            assert!(enc::<i64>(w[0]) < enc::<i64>(w[1]), "{w:?}");
            assert_eq!(i64::decode(&enc::<i64>(w[0])).unwrap(), w[0]);
        }
        for w in [0u32, 1, 256, 65_536, u32::MAX].windows(2) {
            assert!(enc::<u32>(w[0]) < enc::<u32>(w[1]));
        }
        assert_eq!(enc::<i8>(-128), [0]);
        assert_eq!(enc::<i8>(127), [255]);
        assert!(matches!(u64::decode(&[1, 2, 3]), Err(Error::Decode(_))));
    }

    #[test]
    fn tuples_sort_element_by_element() {
        type T<'a> = (&'a str, u32, Option<u8>);
        let keys: Vec<T<'_>> = vec![
            ("", 9, None),
            ("a", 0, Some(0)),
            ("a", 1, None),
            ("a", 1, Some(0)),
            ("ab", 0, None),
            ("b", 0, None),
        ];
        let bytes: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                <(&str, u32, Option<u8>)>::encode(k)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            })
            .collect();
        for (i, w) in bytes.windows(2).enumerate() {
            assert!(w[0] < w[1], "{:?} !< {:?}", keys[i], keys[i + 1]);
        }
        for (k, b) in keys.iter().zip(&bytes) {
            assert_eq!(&<(&str, u32, Option<u8>)>::decode(b).unwrap(), k);
        }
        // A 0 byte inside a non-last string is refused; the last may hold any bytes.
        assert!(matches!(
            <(&str, u8)>::encode(&("a\0b", 1)),
            Err(Error::Invalid(_))
        ));
        assert_eq!(
            <(u8, &[u8])>::encode(&(1, &[0, 0][..])).unwrap().as_ref(),
            [1, 0, 0]
        );
        // Long tuples spill to the heap and stay whole.
        let long = "x".repeat(100);
        let b = <(&str, u64)>::encode(&(&long, 7)).unwrap();
        assert_eq!(<(&str, u64)>::decode(b.as_ref()).unwrap(), (&long[..], 7));
        assert_eq!(<(u16, [u8; 3])>::WIDTH, Some(5));
        assert_eq!(<(u16, &str)>::WIDTH, None);
    }

    #[test]
    fn damaged_bytes_are_decode_errors() {
        assert!(matches!(bool::decode(&[2]), Err(Error::Decode(_))));
        assert!(matches!(
            char::decode(&0xD800u32.to_be_bytes()),
            Err(Error::Decode(_))
        ));
        assert!(matches!(<&str>::decode(&[0xFF]), Err(Error::Decode(_))));
        assert!(matches!(
            <(&str, u8)>::decode(b"abc"),
            Err(Error::Decode(_))
        ));
        assert!(matches!(
            <Option<u8>>::decode(&[2, 1]),
            Err(Error::Decode(_))
        ));
        assert!(matches!(<[u8; 4]>::decode(&[1, 2]), Err(Error::Decode(_))));
        assert!(matches!(<()>::decode(&[1]), Err(Error::Decode(_))));
        assert_eq!(<Integer<u32>>::decode(&7u32.to_ne_bytes()).unwrap(), 7);
    }
}
