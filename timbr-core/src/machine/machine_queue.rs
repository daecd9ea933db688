//! The machine's queue, whichever it is: the built-in [`MemoryQueue`], or a queue given to
//! the builder. The one place that chooses between them; the machine's threads and its
//! putters all hold a [`MachineQueue`].

use std::ops::Deref;
use std::sync::Arc;
use std::time::Instant;

use crate::io::{Delivery, MemoryQueue, Queue, Taken};
use crate::TryPutError;

/// A machine's queue. A datum's hot paths (`try_put`, taking a datum) call the built-in
/// queue on its own type, inlined, rather than through the [`Queue`] trait, which returns
/// the datum through memory to be copied again; everything else goes through the trait
/// ([`Deref`]).
pub(crate) enum MachineQueue<T> {
    /// The built-in queue.
    Memory(Arc<MemoryQueue<T>>),
    /// A queue given to [`MachineBuilder::queue`](crate::MachineBuilder::queue).
    Given(Arc<dyn Queue<T>>),
}

impl<T> Clone for MachineQueue<T> {
    fn clone(&self) -> Self {
        match self {
            MachineQueue::Memory(q) => MachineQueue::Memory(Arc::clone(q)),
            MachineQueue::Given(q) => MachineQueue::Given(Arc::clone(q)),
        }
    }
}

impl<T: Send + 'static> MachineQueue<T> {
    /// The queue given to the builder, or a built-in one of `capacity`.
    pub(crate) fn new(given: Option<Arc<dyn Queue<T>>>, capacity: usize) -> Self {
        match given {
            Some(queue) => MachineQueue::Given(queue),
            None => MachineQueue::Memory(Arc::new(MemoryQueue::new(capacity))),
        }
    }

    /// Puts `datum` if the queue has room; never blocks.
    #[inline]
    pub(crate) fn try_put(&self, datum: T) -> Result<(), TryPutError<T>> {
        match self {
            MachineQueue::Memory(q) => q.try_put(datum),
            MachineQueue::Given(q) => q.try_put(datum),
        }
    }

    /// Takes a datum ready now.
    #[inline]
    pub(crate) fn try_take_delivery(&self) -> Option<Delivery<T>> {
        match self {
            MachineQueue::Memory(q) => q.try_take().map(Delivery::unacked),
            MachineQueue::Given(q) => q.try_take_delivery(),
        }
    }

    /// Takes a datum, waiting until `deadline` (or until woken).
    #[inline]
    pub(crate) fn take_delivery(&self, deadline: Option<Instant>) -> Taken<Delivery<T>> {
        match self {
            MachineQueue::Memory(q) => q.take(deadline).map(Delivery::unacked),
            MachineQueue::Given(q) => q.take_delivery(deadline),
        }
    }

    /// Whether other processes share the queue (then the machine counts a datum as accepted
    /// when it takes it, not when it is put); the built-in queue never is, and is not asked.
    #[inline]
    pub(crate) fn is_shared(&self) -> bool {
        match self {
            MachineQueue::Memory(_) => false,
            MachineQueue::Given(q) => q.is_shared(),
        }
    }
}

impl<T: Send + 'static> Deref for MachineQueue<T> {
    type Target = dyn Queue<T>;

    fn deref(&self) -> &Self::Target {
        match self {
            MachineQueue::Memory(q) => &**q,
            MachineQueue::Given(q) => &**q,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::DeliveryId;
    use crate::{PutTimeoutError, TryPutError};

    /// A queue of its own kind that says it is shared, to see which paths the choice takes.
    struct Given(MemoryQueue<u32>);

    impl Queue<u32> for Given {
        fn try_put(&self, datum: u32) -> Result<(), TryPutError<u32>> {
            self.0.try_put(datum + 100)
        }
        fn put_until(&self, d: u32, at: Option<Instant>) -> Result<(), PutTimeoutError<u32>> {
            self.0.put_until(d, at)
        }
        fn close(&self) {
            self.0.close()
        }
        fn take(&self, deadline: Option<Instant>) -> Taken<u32> {
            self.0.take(deadline)
        }
        fn try_take(&self) -> Option<u32> {
            self.0.try_take()
        }
        fn wake_takers(&self, n: usize) {
            self.0.wake_takers(n)
        }
        fn len(&self) -> usize {
            self.0.len()
        }
        fn capacity(&self) -> Option<usize> {
            self.0.capacity()
        }
        fn try_take_delivery(&self) -> Option<Delivery<u32>> {
            let datum = self.0.try_take()?;
            Some(Delivery::with_id(datum, DeliveryId::new("given")))
        }
        fn is_shared(&self) -> bool {
            true
        }
    }

    #[test]
    fn the_built_in_queue_is_called_directly_and_a_given_one_through_its_trait() {
        let memory = MachineQueue::<u32>::new(None, 2);
        assert!(matches!(memory, MachineQueue::Memory(_)));
        assert!(!memory.is_shared());
        memory.try_put(1).unwrap();
        assert_eq!(memory.len(), 1);
        assert_eq!(memory.capacity(), Some(2));
        let taken = memory.try_take_delivery().unwrap();
        assert_eq!(taken.datum, 1);
        assert!(taken.id.is_none());

        let given: MachineQueue<u32> =
            MachineQueue::new(Some(Arc::new(Given(MemoryQueue::new(2)))), 99);
        assert!(given.is_shared());
        assert_eq!(given.capacity(), Some(2)); // the given queue's, not the builder's
        given.try_put(1).unwrap();
        let clone = given.clone();
        let taken = clone.try_take_delivery().unwrap();
        assert_eq!(taken.datum, 101);
        assert!(taken.id.is_some());
    }
}
