//! Borrows of the map cannot outlive what keeps them valid: each case under
//! `compile_fail/` must be refused by the borrow checker (the expected errors are in
//! the `.stderr` files next to them).

#[test]
fn borrows_of_the_map_cannot_outlive_what_keeps_them_valid() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
