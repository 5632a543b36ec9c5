//! The serde codec (feature `serde`): any serde type round-trips through a typed table,
//! and bytes that are not its postcard encoding are `Error::Decode`.
#![cfg(feature = "serde")]

mod common;

use std::collections::BTreeMap;

use common::Rng;
use mdbx_lite::{Env, Error, Postcard, TableDef, Value};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
enum Role {
    Guest,
    Member { since: u64 },
    Admin(String),
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Account {
    name: String,
    balance: i64,
    roles: Vec<Role>,
    limits: Option<(u32, f64)>,
}

const ACCOUNTS: TableDef<u64, Postcard<Account>> = TableDef::new("accounts");

fn account(rng: &mut Rng) -> Account {
    let roles = (0..rng.below(4))
        .map(|i| match rng.below(3) {
            0 => Role::Guest,
            1 => Role::Member { since: rng.next() },
            _ => Role::Admin(format!("realm{i}")),
        })
        .collect();
    Account {
        name: "n".repeat(rng.below(200) as usize),
        balance: rng.next() as i64,
        roles,
        limits: (rng.below(2) == 0).then(|| (rng.below(1000) as u32, 0.5)),
    }
}

#[test]
fn serde_values_round_trip_and_bad_bytes_are_decode_errors() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env::open(dir.path().join("db")).unwrap();
    let mut rng = Rng(17);
    let mut model = BTreeMap::new();
    let mut w = env.begin_write().unwrap();
    {
        let mut t = w.create(&ACCOUNTS).unwrap();
        for _ in 0..3000 {
            let id = rng.below(2000);
            let a = account(&mut rng);
            t.put(id, &a).unwrap();
            model.insert(id, a);
        }
    }
    // Bytes written through the byte API that are not an account.
    w.create_table("accounts")
        .unwrap()
        .put(&u64::MAX.to_be_bytes(), &[0xFF; 3])
        .unwrap();
    w.commit().unwrap();
    let r = env.begin_read().unwrap();
    let t = r.open(&ACCOUNTS).unwrap();
    for (id, a) in &model {
        assert_eq!(t.get(*id).unwrap().as_ref(), Some(a));
    }
    assert!(matches!(t.get(u64::MAX), Err(Error::Decode(_))));
    let walked: Vec<u64> = t.iter().take(model.len()).map(|e| e.unwrap().0).collect();
    assert!(walked.iter().eq(model.keys()));
    // Trailing bytes after a valid encoding are refused too.
    let mut bytes = Postcard::<Account>::encode(&model[&walked[0]]).unwrap();
    bytes.push(0);
    assert!(matches!(
        Postcard::<Account>::decode(&bytes),
        Err(Error::Decode(_))
    ));
}
