//! The journal: every syscall wharf makes to build, enter or control a
//! container becomes a numbered *step*, printed live when `--explain` is on.
//!
//! After `clone` the child is a separate process with a copy of our memory,
//! so an ordinary counter would fork into two. The step counter therefore
//! lives in a page mapped `MAP_SHARED`: parent and child increment the same
//! integer and their steps come out numbered in the order they happened.

use std::io::Write;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use owo_colors::{OwoColorize, Stream};
use serde::Serialize;

/// One syscall (or kernel-configuring file write), as the learner sees it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Step {
    pub step: u32,
    /// Which of our processes made the call: "parent", "child", …
    pub process: String,
    pub pid: i32,
    pub syscall: String,
    /// Arguments decoded the way `strace -X verbose` prints them.
    pub args: Vec<String>,
    /// The return value; `None` for a call that does not return (execve).
    pub ret: Option<i64>,
    /// Errno name (`EPERM`) when the call failed.
    pub errno: Option<String>,
    pub why: String,
    pub hint: Option<String>,
    /// What changed in the kernel's view, in one line.
    pub kernel: Option<String>,
}

impl Step {
    /// `pivot_root(".", ".")` — the call as strace would print it.
    pub fn call_text(&self) -> String {
        format!("{}({})", self.syscall, self.args.join(", "))
    }

    /// ` = 0`, ` = -1 EINVAL (Invalid argument)`, or nothing for execve.
    pub fn result_text(&self) -> String {
        match (&self.errno, self.ret) {
            (Some(name), _) => format!(" = -1 {name} ({})", super::decode::errno_text(name)),
            (None, Some(r)) => format!(" = {r}"),
            (None, None) => String::new(),
        }
    }
}

/// How steps are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Record silently (the default).
    #[default]
    Quiet,
    /// Human-readable, numbered, coloured on a tty.
    Text,
    /// One JSON object per line.
    Json,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" | "text" => Ok(Mode::Text),
            "json" => Ok(Mode::Json),
            other => Err(format!(
                "unknown explain format {other:?}: use text or json"
            )),
        }
    }
}

/// Something that wants to see each step after it is printed (the `--show`
/// tables are drawn by one).
pub type Observer = Box<dyn Fn(&Step) + Send + Sync>;

struct State {
    mode: Mode,
    process: String,
    observer: Option<Observer>,
}

static STATE: Mutex<State> = Mutex::new(State {
    mode: Mode::Quiet,
    process: String::new(),
    observer: None,
});
static COUNTER: OnceLock<&'static AtomicU32> = OnceLock::new();

/// Choose how steps are shown. Call once, early in `main`, before any clone.
pub fn init(mode: Mode) {
    let mut st = lock();
    st.mode = mode;
    if st.process.is_empty() {
        st.process = "parent".into();
    }
    drop(st);
    counter();
}

pub fn mode() -> Mode {
    lock().mode
}

/// Label the steps this process makes from now on ("child" after clone).
pub fn set_process(label: &str) {
    lock().process = label.to_string();
}

pub fn process() -> String {
    let p = lock().process.clone();
    if p.is_empty() {
        "parent".into()
    } else {
        p
    }
}

/// Install the observer that runs after every step.
pub fn observe(observer: Observer) {
    lock().observer = Some(observer);
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared step counter, mapped MAP_SHARED so clone()d children share it.
fn counter() -> &'static AtomicU32 {
    COUNTER.get_or_init(|| {
        use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
        let len = NonZeroUsize::new(std::mem::size_of::<AtomicU32>()).expect("non-zero");
        // SAFETY: a fresh anonymous mapping, zero-filled, never unmapped;
        // AtomicU32 has the layout of u32 and zero is a valid value.
        let page = unsafe {
            mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_SHARED,
            )
        };
        match page {
            Ok(p) => unsafe { &*(p.as_ptr() as *const AtomicU32) },
            // Without the shared page steps still work; only numbering
            // across processes may repeat.
            Err(_) => Box::leak(Box::new(AtomicU32::new(0))),
        }
    })
}

/// Give the step its number and label, print it, and pass it to the observer.
pub(crate) fn record(mut step: Step) -> Step {
    step.step = counter().fetch_add(1, Ordering::SeqCst) + 1;
    step.process = process();
    step.pid = std::process::id() as i32;
    let st = lock();
    match st.mode {
        Mode::Quiet => {}
        Mode::Text => emit(&render_text(&step)),
        Mode::Json => emit(&(render_json(&step) + "\n")),
    }
    if let Some(obs) = &st.observer {
        obs(&step);
    }
    step
}

/// Write in one `write(2)` so lines from parent and child never interleave.
/// Write to stderr, ignoring a reader that went away (`| head`): the
/// lesson must go on to its cleanup rather than panic halfway through.
pub fn emit(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

pub fn render_json(step: &Step) -> String {
    serde_json::to_string(step).unwrap_or_default()
}

/// `#3 pivot_root(".", ".") = 0   [child]` and its why/hint/kernel lines.
pub fn render_text(step: &Step) -> String {
    let num = format!("#{}", step.step);
    let call = step.call_text();
    let res = step.result_text();
    let failed = step.errno.is_some();
    let head = format!(
        "{} {}{}",
        num.if_supports_color(Stream::Stderr, |t| t.bold()),
        call.if_supports_color(Stream::Stderr, |t| t.cyan()),
        if failed {
            res.if_supports_color(Stream::Stderr, |t| t.red())
                .to_string()
        } else {
            res.if_supports_color(Stream::Stderr, |t| t.green())
                .to_string()
        }
    );
    let width = num.len() + 1 + call.chars().count() + res.chars().count();
    let pad = " ".repeat(80usize.saturating_sub(width).max(1));
    let label = format!("[{}]", step.process);
    let mut out = format!(
        "{head}{pad}{}\n",
        label.if_supports_color(Stream::Stderr, |t| t.dimmed())
    );
    let mut line = |key: &str, text: &str| {
        out.push_str(&format!(
            "   {} {text}\n",
            format!("{key}:").if_supports_color(Stream::Stderr, |t| t.yellow())
        ));
    };
    line("why", &step.why);
    if let Some(h) = &step.hint {
        line("hint", h);
    }
    if let Some(k) = &step.kernel {
        line("kernel", k);
    }
    out
}
