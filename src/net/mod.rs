//! Network side of the shell: the connect task ([`conn`]) and the connected
//! socket the loop reads and writes without blocking ([`link`]).

pub mod conn;
pub mod link;
