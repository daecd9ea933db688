//! Changing a machine's stages at run time, between data: a datum never sees half a change.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::datum::wiring::Wiring;
use crate::machine::builder::place;
use crate::machine::Machine;
use crate::{BuildError, Datum, Stage};

impl<T: Datum> Machine<T> {
    /// Puts `stage` at its slot, replacing and returning what was there. Data already in
    /// flight finish with the old wiring; the next datum sees the new one.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the slot is out of range or the new wiring does not type-check;
    /// the machine is then unchanged.
    pub fn set_stage(&self, stage: Stage) -> Result<Option<Stage>, BuildError> {
        let slot = stage.slot;
        self.rewire(|stages| {
            if slot >= stages.len() {
                return Err(BuildError::SlotOutOfRange {
                    stage: stage.name.to_string(),
                    slot,
                    slots: stages.len(),
                });
            }
            Ok(stages[slot].replace(stage))
        })
    }

    /// Puts several stages at once: the next datum sees all of them, never only some.
    ///
    /// # Errors
    ///
    /// As for [`set_stage`](Machine::set_stage), and [`BuildError::SlotTaken`] if two of
    /// the new stages share a slot; the machine is then unchanged.
    pub fn set_stages(&self, new: impl IntoIterator<Item = Stage>) -> Result<(), BuildError> {
        self.rewire(|stages| {
            let new = place(stages.len(), new.into_iter().collect())?;
            for (slot, stage) in new.into_iter().enumerate() {
                if let Some(stage) = stage {
                    stages[slot] = Some(stage);
                }
            }
            Ok(())
        })
    }

    /// Empties a slot (it becomes the identity) and returns its stage.
    ///
    /// # Errors
    ///
    /// [`BuildError::EmptySlot`] if there is no stage there; [`BuildError::ArgumentType`] if a
    /// later stage reads this slot and the identity would give it another type.
    pub fn remove_stage(&self, slot: usize) -> Result<Stage, BuildError> {
        self.rewire(|stages| {
            stages
                .get_mut(slot)
                .and_then(Option::take)
                .ok_or(BuildError::EmptySlot(slot))
        })
    }

    fn rewire<R>(
        &self,
        change: impl FnOnce(&mut Vec<Option<Stage>>) -> Result<R, BuildError>,
    ) -> Result<R, BuildError> {
        let mut current = self.shared.wiring.write();
        let mut stages = current.stages.clone();
        let out = change(&mut stages)?;
        let stages = place(stages.len(), stages.into_iter().flatten().collect())?;
        *current = Arc::new(Wiring::build::<T>(stages)?);
        self.shared.wiring_version.fetch_add(1, Ordering::AcqRel);
        drop(current);
        // Let the old stages go now rather than at the next `get`, unless a `get` is under
        // way (perhaps the very stage calling this): that one drops them when it next runs.
        if let Some(mut kept) = self.shared.caller.try_lock() {
            *kept = None;
        }
        Ok(out)
    }

    /// The stage at `slot`, if any.
    pub fn stage(&self, slot: usize) -> Option<Stage> {
        self.shared
            .wiring
            .read()
            .stages
            .get(slot)
            .cloned()
            .flatten()
    }

    /// The number of slots.
    pub fn slots(&self) -> usize {
        self.shared.wiring.read().slots()
    }
}
