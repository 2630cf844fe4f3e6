//! Writes a small sample journal, to try the `venue journal` tools on:
//!
//! ```text
//! cargo run -p journal --example journal_sample -- /tmp/sample-journal [FRAMES]
//! cargo run -- journal stat /tmp/sample-journal
//! ```
//!
//! Frames carry ASCII text, timestamps one millisecond apart from now, and
//! payload type 1, format version 1; segments are 64 KiB so a few hundred
//! frames already span several segments.

use journal::{Durability, Journal, JournalConfig};

fn main() {
    if let Err(e) = run() {
        eprintln!("journal_sample: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: journal_sample DIR [FRAMES]")?;
    let frames: u64 = args.next().map_or(Ok(1000), |n| n.parse())?;
    let config = JournalConfig {
        segment_size_bytes: 64 << 10,
        index_interval_bytes: 4096,
        durability: Durability::Group {
            flush_interval_us: 1_000,
            flush_threshold_bytes: 1 << 20,
        },
        prefault_distance_bytes: 0,
    };
    let mut j = Journal::open(&dir, config)?;
    if let Some(cut) = &j.recovery().cut {
        println!(
            "recovery cut {} bytes at {} offset {}",
            cut.bytes,
            cut.segment.display(),
            cut.offset
        );
    }
    let start_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos() as u64;
    let first = j.last_seq() + 1;
    for i in 0..frames {
        let text = format!("sample frame {} of {frames}", first + i);
        j.append(1, 1, start_ns + i * 1_000_000, text.as_bytes())?;
    }
    let last = j.last_seq();
    j.close()?;
    println!("{dir}: appended sequence numbers {first}..={last}");
    Ok(())
}
