//! The one way a participant is driven from Python: every protocol class
//! (`RaftNode`, `Bully`, `RingElection`, `HeartbeatDetector`,
//! `PhiDetector`, `AntiEntropy`) keeps its node in a [`Node`], which is
//! core's [`Shared`]: a thread that feeds an input holds the node's turn
//! until its `poll()` returns None, so its outputs are persisted, sent and
//! applied in the node's order; another thread's input waits for the turn
//! (with the GIL released) and another thread's `poll()` returns None.
//!
//! Time never goes backwards: every input's `now_ms` is checked against the
//! latest one the same thread gave the node with an accepted input, and an
//! earlier one raises `InvalidArgument`, changing nothing (core's `shared::Clocks`).
//! Per thread, because threads that read one clock and then race for the
//! turn legitimately arrive out of order (core's `Shared` feeds the later
//! arrival at the latest time already fed); one thread going back is a bug.

use consensio::shared::{Clocks, Shared};
use consensio::{Input, Instant, NodeId, Output, Participant, wire};
use pyo3::prelude::*;

use crate::{PersistOutput, SendOutput, error, invalid};

/// What a family says about its participant to be driven from Python: the
/// objects its persisted records and events become. `Send` is the same for
/// every participant and is made here.
pub(crate) trait Outputs: Participant + Send {
    /// The `Persist` output of one record.
    fn persist(py: Python<'_>, record: Self::Persist) -> PyResult<Py<PyAny>>;
    /// The event object of one event.
    fn event(py: Python<'_>, event: Self::Event) -> PyResult<Py<PyAny>>;
}

/// Integer records (an epoch, an incarnation): only the last matters.
pub(crate) fn persist_value(py: Python<'_>, value: u64) -> PyResult<Py<PyAny>> {
    Ok(Py::new(py, PersistOutput::new(value))?.into_any())
}

/// A participant that Python threads take turns on.
#[derive(Debug)]
pub(crate) struct Node<P: Participant> {
    shared: Shared<P>,
    /// The latest `now` each thread gave.
    clocks: Clocks,
}

impl<P> Node<P>
where
    P: Outputs,
    P::Message: Send,
    P::Command: Send,
    P::Error: Send,
{
    pub(crate) fn new(node: P) -> Self {
        Node {
            shared: Shared::new(node),
            clocks: Clocks::new(),
        }
    }

    /// Feeds `input`, taking the turn; waits for it without the GIL.
    pub(crate) fn input(
        &self,
        py: Python<'_>,
        now_ms: u64,
        input: Input<P::Message, P::Command>,
    ) -> PyResult<()> {
        self.input_then(py, now_ms, input, |_| ())
    }

    /// As [`input`](Self::input), then reads the node under the same lock.
    pub(crate) fn input_then<R: Send>(
        &self,
        py: Python<'_>,
        now_ms: u64,
        input: Input<P::Message, P::Command>,
        then: impl FnOnce(&P) -> R + Send,
    ) -> PyResult<R> {
        let now = Instant::from_millis(now_ms);
        self.clocks.check(now).map_err(|latest| {
            invalid(format!(
                "now_ms {now_ms} is earlier than {}, the time this thread last gave; time must not go backwards",
                latest.as_millis()
            ))
        })?;
        let read = py
            .detach(|| self.shared.handle_input_then(now, input, then))
            .map_err(error)?;
        self.clocks.record(now);
        Ok(read)
    }

    /// Decodes `data` (raising `MalformedMessage`, with nothing changed)
    /// and feeds it as a message from `from_id`.
    pub(crate) fn deliver(
        &self,
        py: Python<'_>,
        now_ms: u64,
        from_id: u64,
        data: &[u8],
    ) -> PyResult<()> {
        let message = wire::decode(data).map_err(error)?;
        let from = NodeId(from_id);
        self.input(py, now_ms, Input::Message { from, message })
    }

    /// The calling thread's next output (see the module docs) as a Python
    /// object, or None.
    pub(crate) fn poll(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        Ok(self.poll_counted(py)?.map(|(_, object)| object))
    }

    /// As [`poll`](Self::poll), with the output's record count (core's
    /// `Shared::poll_counted`).
    pub(crate) fn poll_counted(&self, py: Python<'_>) -> PyResult<Option<(u64, Py<PyAny>)>> {
        let Some((records, output)) = self.shared.poll_counted() else {
            return Ok(None);
        };
        let object = match output {
            Output::Send { to, message } => {
                let frame = wire::encode_to_vec(&message).map_err(error)?;
                Py::new(py, SendOutput::new(to.0, frame))?.into_any()
            }
            Output::Persist(record) => P::persist(py, record)?,
            Output::Event(event) => P::event(py, event)?,
        };
        Ok(Some((records, object)))
    }

    /// Reads the node (no turn needed).
    pub(crate) fn with<R>(&self, f: impl FnOnce(&P) -> R) -> R {
        self.shared.with(f)
    }

    /// Runs one of the node's own commands that is not an input and queues
    /// outputs, taking the turn as an input does (core's `Shared::act`);
    /// waits for it without the GIL. The caller drains after it.
    pub(crate) fn act<R: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&mut P) -> Result<R, P::Error> + Send,
    ) -> PyResult<R> {
        py.detach(|| self.shared.act(f)).map_err(error)
    }

    /// Changes a setting of the node that queues no output (no turn
    /// needed).
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(&mut P) -> R) -> R {
        self.shared.with_mut(f)
    }

    /// When the node next wants a tick, in milliseconds.
    pub(crate) fn next_deadline(&self) -> Option<u64> {
        self.shared.next_deadline().map(Instant::as_millis)
    }
}

/// The `#[pymethods]` of a participant class, with the methods every
/// participant has written once: `id`, `next_deadline`, `handle_message`,
/// `tick`, `poll` and iteration (`for out in node:` drains it). The class
/// keeps its node in a field `node: Node<_>`; after `Class;` come its own
/// methods (constructor, commands, queries, `__repr__`). Written with
/// braces, `participant_methods! { Class; ... }`, so rustfmt formats the
/// methods as it formats any impl block.
macro_rules! participant_methods {
    ($class:ty; $($extra:tt)*) => {
        #[pymethods]
        impl $class {
            /// This node's id.
            #[getter]
            fn id(&self) -> u64 {
                self.node.with(|n| consensio::Participant::id(n).0)
            }

            /// When the node next wants `tick`, or None if no timer is armed.
            #[getter]
            fn next_deadline(&self) -> Option<u64> {
                self.node.next_deadline()
            }

            /// Delivers a frame received from `from_id`. Raises
            /// `MalformedMessage` for bytes that are not a message of this
            /// protocol, `LimitExceeded` for a frame over its size bound,
            /// and what the class documents for a message it refuses;
            /// nothing changes when it raises.
            fn handle_message(
                &self,
                py: Python<'_>,
                now_ms: u64,
                from_id: u64,
                data: &[u8],
            ) -> PyResult<()> {
                self.node.deliver(py, now_ms, from_id, data)
            }

            /// Fires the timers due at `now_ms`; a spurious tick does no
            /// harm. `now_ms` must never go backwards: for every input of
            /// every participant, a time earlier than the latest one this
            /// thread gave raises `InvalidArgument`, and nothing changes.
            fn tick(&self, py: Python<'_>, now_ms: u64) -> PyResult<()> {
                self.node.input(py, now_ms, consensio::Input::Tick)
            }

            /// The next output (`Send`, `Persist` or one of the family's
            /// events), or None when there is none. Drain it after every
            /// call, making each `Persist` durable before acting on the
            /// outputs after it.
            fn poll(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
                self.node.poll(py)
            }

            /// As `poll`, as `(records, output)`: `records` is how many
            /// `Persist` outputs this node had given when this one was
            /// polled, counting a `Persist` itself. A host that shares one
            /// fsync among several inputs (group commit) writes each
            /// record as it polls it, fsyncs after the drain, and acts on
            /// an output once its file is durable up to `records`.
            fn poll_counted(&self, py: Python<'_>) -> PyResult<Option<(u64, Py<PyAny>)>> {
                self.node.poll_counted(py)
            }

            fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }

            fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
                self.node.poll(py)
            }

            $($extra)*
        }
    };
}
pub(crate) use participant_methods;

/// Declares an event class: a frozen, hashable value with read-only fields,
/// a constructor taking them in order (`signature (...)` gives defaults),
/// and a repr that reads like the call that builds it. Fields are `u64`,
/// `Option<u64>`, `f64` or `String` (names such as a failure's reason).
macro_rules! event_class {
    (
        $(#[doc = $doc:literal])*
        $module:literal, $name:ident $(signature ($($sig:tt)*))?
        { $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ty ),* $(,)? }
    ) => {
        $(#[doc = $doc])*
        #[pyclass(module = $module, frozen)]
        #[derive(Clone, Debug, PartialEq)]
        pub(crate) struct $name {
            $( $(#[doc = $fdoc])* #[pyo3(get)] pub(crate) $field: $ty, )*
        }

        #[pymethods]
        impl $name {
            #[new]
            $(#[pyo3(signature = ($($sig)*))])?
            fn new($($field: $ty),*) -> Self {
                $name { $($field),* }
            }

            fn __repr__(&self) -> String {
                let fields: Vec<String> = vec![
                    $(format!("{}={}", stringify!($field), $crate::participant::PyRepr::py_repr(&self.$field))),*
                ];
                format!("{}({})", stringify!($name), fields.join(", "))
            }

            fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
                other.cast::<$name>().is_ok_and(|o| *o.get() == *self)
            }

            fn __hash__(&self) -> u64 {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                $( $crate::participant::PyRepr::py_repr(&self.$field).hash(&mut h); )*
                h.finish()
            }
        }
    };
}
pub(crate) use event_class;

/// How an event field reads in a repr: as Python would print it.
pub(crate) trait PyRepr {
    fn py_repr(&self) -> String;
}

impl PyRepr for u64 {
    fn py_repr(&self) -> String {
        self.to_string()
    }
}

impl PyRepr for f64 {
    fn py_repr(&self) -> String {
        format!("{self:?}")
    }
}

impl PyRepr for String {
    fn py_repr(&self) -> String {
        format!("'{self}'")
    }
}

impl<T: PyRepr> PyRepr for Vec<T> {
    fn py_repr(&self) -> String {
        let items: Vec<String> = self.iter().map(PyRepr::py_repr).collect();
        format!("[{}]", items.join(", "))
    }
}

impl<T: PyRepr> PyRepr for Option<T> {
    fn py_repr(&self) -> String {
        self.as_ref()
            .map_or_else(|| "None".to_string(), PyRepr::py_repr)
    }
}
