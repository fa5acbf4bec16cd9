"""Enumerations shared by every part of the pump software: modes, operator commands, alarms.

These are plain declarations: the controller, the monitor, the protocol and the prover
all use the same names, so an alarm called ``GAS_LOSS`` in a proof is the same alarm
the monitor sees on the wire.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class Mode(IntEnum):
    """Pumping mode of the console. Only the three trigger modes ever inflate the balloon."""

    STANDBY = 0  #: not pumping, balloon deflated
    ECG_TRIGGER = 1  #: deflate on (or before) the R wave, inflate after the end of ejection
    PRESSURE_TRIGGER = 2  #: beat trigger = systolic upstroke, inflate on the dicrotic notch
    INTERNAL = 3  #: fixed-rate asynchronous pumping; only with no cardiac activity
    HALTED = 4  #: stopped by a high-priority fault; needs fault cleared AND acknowledge


#: Modes that pump (may inflate the balloon), modes that time inflation from a detected
#: beat, and modes in which the console is stopped (balloon still and deflated).
PUMPING_MODES: tuple[Mode, ...] = (Mode.ECG_TRIGGER, Mode.PRESSURE_TRIGGER, Mode.INTERNAL)
TRIGGER_MODES: tuple[Mode, ...] = (Mode.ECG_TRIGGER, Mode.PRESSURE_TRIGGER)
STOPPED_MODES: tuple[Mode, ...] = (Mode.STANDBY, Mode.HALTED)


class OperatorCommand(IntEnum):
    """What the operator pressed during a tick (at most one key per 1 ms tick)."""

    NONE = 0
    START_ECG = 1
    START_PRESSURE = 2
    START_INTERNAL = 3  #: internal mode needs this explicit confirmation
    STANDBY = 4
    ACKNOWLEDGE = 5


class AlarmPriority(Enum):
    """IEC 60601-1-8 alarm priority."""

    HIGH = "high"  #: immediate response; death or irreversible injury if ignored
    MEDIUM = "medium"  #: prompt response
    LOW = "low"  #: awareness


class Alarm(IntEnum):
    """Alarm conditions the controller raises. The value is the bit in the wire alarm mask."""

    TRIGGER_LOSS = 0
    CONTRA_ABSOLUTE = 1
    CONTRA_RELATIVE = 2
    GAS_LOSS = 3
    BLOOD_DETECTED = 4
    CATHETER_KINK = 5
    SYSTEM_FAULT = 6
    ASYNC_ACTIVITY = 7  #: cardiac activity seen while pumping in internal mode
    IDLE_TOO_LONG = 8
    SETTINGS_REJECTED = 9
    ASSIST_SUSPENDED = 10  #: in a trigger mode, beats go by without assistance (rate, rhythm)


ALARM_PRIORITY: dict[Alarm, AlarmPriority] = {
    Alarm.TRIGGER_LOSS: AlarmPriority.MEDIUM,
    Alarm.CONTRA_ABSOLUTE: AlarmPriority.HIGH,
    Alarm.CONTRA_RELATIVE: AlarmPriority.MEDIUM,
    Alarm.GAS_LOSS: AlarmPriority.HIGH,
    Alarm.BLOOD_DETECTED: AlarmPriority.HIGH,
    Alarm.CATHETER_KINK: AlarmPriority.HIGH,
    Alarm.SYSTEM_FAULT: AlarmPriority.HIGH,
    Alarm.ASYNC_ACTIVITY: AlarmPriority.HIGH,
    Alarm.IDLE_TOO_LONG: AlarmPriority.MEDIUM,
    Alarm.SETTINGS_REJECTED: AlarmPriority.LOW,
    Alarm.ASSIST_SUSPENDED: AlarmPriority.MEDIUM,
}
