//! The README's library example is `examples/readme.rs`, word for word, and it runs
//! any number of times in a row, leaving nothing behind.

use std::path::Path;

mod example {
    include!("../examples/readme.rs");

    pub fn run() -> Result<(), Box<dyn std::error::Error>> {
        main()
    }
}

/// The first ```rust block of the README's "Using the library" section.
fn readme_example() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split_once("\n## Using the library\n")
        .expect("README has a \"Using the library\" section")
        .1;
    let code = section
        .split_once("```rust\n")
        .expect("the section has a rust code block")
        .1;
    code.split_once("```\n")
        .expect("the block ends")
        .0
        .to_string()
}

#[test]
fn readme_example_is_examples_readme_rs() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/readme.rs");
    let example = std::fs::read_to_string(file).unwrap();
    assert!(
        readme_example() == example,
        "README.md's library example and crates/mdbx-lite-cli/examples/readme.rs differ:\n\
         --- README.md\n{}\n--- examples/readme.rs\n{example}",
        readme_example()
    );
}

#[test]
fn readme_example_runs_twice_in_a_row() {
    example::run().expect("first run");
    example::run().expect("second run");
    let dir = std::env::temp_dir().join(format!("mdbx-lite-example-{}", std::process::id()));
    assert!(!dir.exists(), "{} left behind", dir.display());
}
