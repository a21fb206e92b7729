//! API tests: the real application on a random port (one test binary, zero2prod style).

mod authz;
mod bad_input;
mod cases;
mod forward;
mod forward_fake;
mod helpers;
mod interop_go;
mod log;
mod reports;
mod routing;
mod rule_codes;
mod tiles;
mod write_checks;
mod writes;
