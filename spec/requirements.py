"""Hazards and safety requirements, with the stable IDs of ``shared/domain/hazards.md``.

Added here, beyond that list (issue 13, efficacy): HZ-NO-THERAPY, REQ-ASSIST and REQ-START,
because a pump that never inflates, or never starts, meets every safety requirement.

Every property in :mod:`iabp.spec.properties` names the requirement(s) and hazard(s) it
answers, so an auditor can follow hazard -> requirement -> property -> proof ->
monitor rule -> test.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hazard:
    """Something that goes wrong for the patient."""

    id: str
    what: str
    harm: str


@dataclass(frozen=True)
class Requirement:
    """What the controller (or the monitor) shall do, and the hazards it answers."""

    id: str
    text: str
    hazards: tuple[str, ...]


HAZARDS: tuple[Hazard, ...] = (
    Hazard("HZ-EARLY-INFL", "balloon inflates while the ventricle ejects",
           "afterload up, stroke volume down, aortic regurgitation"),
    Hazard("HZ-LATE-DEFL", "balloon not fully deflated when ejection begins",
           "afterload and O2 demand up; can precipitate arrest"),
    Hazard("HZ-CONTRA", "pumping in a patient with an absolute contraindication",
           "worse aortic regurgitation; dissection or aneurysm extension; limb ischaemia"),
    Hazard("HZ-NO-TRIGGER", "pumping on a lost, stale or false trigger",
           "random timing: early inflation and late deflation"),
    Hazard("HZ-ASYNC", "internal (asynchronous) pumping while the heart beats on its own",
           "inflation in systole at random"),
    Hazard("HZ-GAS", "pumping on after a gas leak or blood in the gas line",
           "helium embolism, balloon entrapment"),
    Hazard("HZ-KINK", "pumping against a restricted catheter",
           "incomplete inflation/deflation, false timing"),
    Hazard("HZ-SETTINGS", "an unsafe setting accepted", "any of the above"),
    Hazard("HZ-SILENT", "a hazardous condition with no alarm, or an alarm cleared while its "
           "cause persists", "nobody intervenes"),
    Hazard("HZ-STUCK", "the operator cannot stop pumping at once", "any of the above, prolonged"),
    Hazard("HZ-IDLE", "balloon left still in the aorta too long", "thrombus on the membrane"),
    Hazard("HZ-NO-THERAPY", "the pump skips inflations in a rhythm it can time",
           "no diastolic augmentation: the support the balloon is there for is lost"),
    Hazard("HZ-BLIND", "the monitor loses, or misreads, the console's telemetry and says nothing",
           "the safety net is gone unnoticed"),
)

REQUIREMENTS: tuple[Requirement, ...] = (
    Requirement("REQ-INFL-DIASTOLE", "command inflation only inside the diastolic window: after "
                "the end of ejection and before the next predicted R wave", ("HZ-EARLY-INFL",)),
    Requirement("REQ-DEFL-BEFORE-EJECTION", "command deflation no later than the detected R wave "
                "(earlier where the next R wave is predicted) so that under the stated hardware "
                "bounds the balloon is fully deflated when ejection starts", ("HZ-LATE-DEFL",)),
    Requirement("REQ-CONTRA-BLOCK", "never pump while an absolute contraindication is recorded; "
                "keep a high-priority alarm active while it is recorded; a relative "
                "contraindication needs an explicit override and keeps a visible alarm",
                ("HZ-CONTRA", "HZ-SILENT")),
    Requirement("REQ-TRIGGER-LOSS", "when no valid trigger arrives for the trigger-loss timeout, "
                "stop inflating, deflate, and raise the trigger-loss alarm within a stated bound",
                ("HZ-NO-TRIGGER",)),
    Requirement("REQ-TRIGGER-FRESH", "inflate only in a beat whose trigger was detected in that "
                "beat; never on a trigger older than one R-R interval", ("HZ-NO-TRIGGER",)),
    Requirement("REQ-INTERNAL-GUARD", "enter internal mode only on explicit operator confirmation "
                "while no R wave and no pulsatile pressure is detected; leave it (deflate, alarm) "
                "before the next inflation when cardiac activity appears", ("HZ-ASYNC",)),
    Requirement("REQ-ALARM-HALT", "on a high-priority fault deflate and stop pumping within one "
                "control tick, stay stopped until the fault is cleared AND the operator "
                "acknowledges", ("HZ-GAS", "HZ-KINK", "HZ-SILENT")),
    Requirement("REQ-STANDBY-DEFLATED", "in standby the balloon is deflated",
                ("HZ-EARLY-INFL", "HZ-LATE-DEFL")),
    Requirement("REQ-RATIO", "in assist ratio 1:N, inflate in at most one of every N detected "
                "beats", ("HZ-SETTINGS",)),
    Requirement("REQ-SETTINGS-SAFE", "accept a setting change only if it keeps every requirement "
                "true for every heart rate in the supported range; reject the rest with a reason",
                ("HZ-SETTINGS",)),
    Requirement("REQ-ALWAYS-STOPPABLE", "from every reachable state, the operator's standby "
                "command takes effect within one tick", ("HZ-STUCK",)),
    Requirement("REQ-ALARM-LATCH", "an alarm stays active while its cause persists; it clears "
                "only when the cause is gone (and, for high priority, acknowledged)",
                ("HZ-SILENT",)),
    Requirement("REQ-IDLE-ALARM", "raise an alarm when the balloon has been in the patient in "
                "standby longer than the idle limit", ("HZ-IDLE",)),
    Requirement("REQ-ASSIST", "in a steady rhythm inside the stated envelope (rates, "
                "settings), inflate on every beat the assist ratio selects, within a bounded "
                "number of beats", ("HZ-NO-THERAPY",)),
    Requirement("REQ-START", "the operator's start command enters the chosen mode at once when "
                "pumping is permitted: no fault, no unacknowledged high-priority alarm, no "
                "blocking contraindication (a relative one overridden), and for internal mode "
                "confirmed asystole", ("HZ-NO-THERAPY",)),
    Requirement("REQ-MON-FAILSAFE", "the monitor enters its latched safe state on any observed "
                "violation, on corrupt or out-of-order telemetry beyond a threshold, on silence "
                "longer than the watchdog, and on losing the port; its own crash drops the "
                "interlock too", ("HZ-BLIND",)),
    Requirement("REQ-MON-INDEPENDENT", "the monitor judges timing from its own detection of R "
                "waves and balloon state in the raw signals, not from the console's own phase "
                "estimate", ("HZ-EARLY-INFL", "HZ-LATE-DEFL", "HZ-BLIND")),
)

# -- the requirements' own numbers ------------------------------------------------------------
# Stated from the domain (``shared/domain/iabp.md``) or as the project's requirement, never
# read from the controller: a property that states its bound with the controller's own
# constant cannot catch a change of that constant (issue 14's shared-constant mutations).

#: iabp.md, modes: internal (asynchronous) pumping runs at 40-120 /min.
INTERNAL_RATE_MIN_PER_MIN = 40
INTERNAL_RATE_MAX_PER_MIN = 120
#: iabp.md, modes: assist ratios 1:1, 1:2 and 1:3.
ASSIST_RATIO_MAX = 3
#: REQ-IDLE-ALARM (project requirement: the domain names the alarm, not its limit): a
#: balloon left still raises the idle alarm within 30 minutes, whatever the settings.
IDLE_LIMIT_MAX_MS = 30 * 60 * 1000
#: REQ-ALARM-LATCH for therapy (project requirement): pumping never stops silently; the
#: assist-suspended alarm is active once this many trigger reports beyond the assist ratio
#: have gone by without an inflation.
ASSIST_SUSPENDED_WITHIN_BEATS = 3

HAZARD_BY_ID: dict[str, Hazard] = {h.id: h for h in HAZARDS}
REQUIREMENT_BY_ID: dict[str, Requirement] = {r.id: r for r in REQUIREMENTS}
