//! Two processes over a named channel: `chan-peer ping NAME ROUNDS [PAUSE_US]` and
//! `chan-peer pong NAME`.
//!
//! `ping` opens end 0, sends `ping I` for I in 0..ROUNDS and expects `pong I` back each time
//! (sleeping PAUSE_US microseconds after each round, 0 by default), then sends `bye` and
//! prints a summary; `pong` opens end 1 and answers every `ping I` with
//! `pong I` until `bye`, then prints how many it answered.
#![no_std]
#![no_main]

use tern_guest::{Channel, println};

tern_guest::entry!(main);

fn main(args: tern_guest::Args) -> i32 {
    let (Some(role), Some(name)) = (args.str(1), args.str(2)) else {
        println!("usage: chan-peer ping|pong NAME [ROUNDS [PAUSE_US]]");
        return 2;
    };
    match role {
        "ping" => ping(name, args.num(3, 10), args.num(4, 0)),
        "pong" => pong(name),
        _ => 2,
    }
}

fn ping(name: &str, rounds: u64, pause_us: u64) -> i32 {
    let ch = match Channel::open(name, 0) {
        Ok(c) => c,
        Err(e) => {
            println!("open {name}: {e}");
            return 1;
        }
    };
    let mut buf = [0u8; 64];
    let mut sum = 0u64;
    for i in 0..rounds {
        let mut msg = [0u8; 32];
        let m = number(&mut msg, b"ping ", i);
        if ch.send(m).is_err() {
            return 1;
        }
        let n = match ch.recv(&mut buf) {
            Ok(n) if n > 0 => n,
            _ => {
                println!("pong went away");
                return 1;
            }
        };
        let mut want = [0u8; 32];
        if &buf[..n] != number(&mut want, b"pong ", i) {
            println!("unexpected reply at round {i}");
            return 1;
        }
        sum += i;
        if pause_us > 0 {
            tern_guest::sleep_us(pause_us);
        }
    }
    let _ = ch.send(b"bye");
    println!("ping: {rounds} rounds, sum {sum}");
    0
}

fn pong(name: &str) -> i32 {
    let ch = match Channel::open(name, 1) {
        Ok(c) => c,
        Err(e) => {
            println!("open {name}: {e}");
            return 1;
        }
    };
    let mut buf = [0u8; 64];
    let mut answered = 0;
    loop {
        let n = match ch.recv(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if &buf[..n] == b"bye" {
            break;
        }
        if !buf[..n].starts_with(b"ping ") {
            println!("unexpected message");
            return 1;
        }
        buf[1] = b'o';
        if ch.send(&buf[..n]).is_err() {
            return 1;
        }
        answered += 1;
    }
    println!("pong: answered {answered}");
    0
}

/// `prefix` followed by `n` in decimal, in `out`.
fn number<'a>(out: &'a mut [u8; 32], prefix: &[u8], mut n: u64) -> &'a [u8] {
    let mut digits = [0u8; 20];
    let mut k = 0;
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out[..prefix.len()].copy_from_slice(prefix);
    for j in 0..k {
        out[prefix.len() + j] = digits[k - 1 - j];
    }
    &out[..prefix.len() + k]
}
