"""A small reference reconciliation (spec §4-§5) over generated files, to check the ground truth.

Straightforward Python over a few thousand records: the generator's truth
must equal what this finds, line for line and status for status. It follows
the contract's steps in order for one sponsor and day at a time, carries
PENDING records for ``grace_days`` = 1, and applies the daily limit over all
sponsors at the end. It is not the engine and need not be fast.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from .reader import EST, Rec

TOL = 600
LIMIT_CENTS = 75_000


def _start(day: date, hour: int = 0) -> int:
    return int(datetime.combine(day, time(hour), tzinfo=EST).timestamp())


def _key(r: Rec) -> tuple[object, ...]:
    return (r.sponsor, r.bd, r.side, r.line)


class Oracle:
    """Reconcile every sponsor's days in order; ``breaks`` holds one dict per break."""

    def __init__(self, records: list[Rec], days: list[date]) -> None:
        self.days = days
        self.breaks: dict[tuple[object, ...], dict[str, object]] = {}
        self.rejected = [(r.sponsor, r.bd, r.side, r.line, r.reject) for r in records if r.reject]
        self.valid = [r for r in records if not r.reject]
        self.dups: set[tuple[object, ...]] = set()
        for sponsor in sorted({r.sponsor for r in records}):
            self._sponsor(sponsor)
        self._limit()

    def _raise(self, kind: str, side: str, r: Rec, status: str = "OPEN", bd: date | None = None,
               key: tuple[object, ...] | None = None) -> None:
        self.breaks[key or (kind, *_key(r))] = {
            "sponsor_code": r.sponsor, "business_date": bd or r.bd, "break_type": kind,
            "side": side, "txn_type": r.txn, "confirmation_number": r.conf or None,
            "line_number": r.line, "expected_status": status}

    def _sponsor(self, sponsor: str) -> None:
        mine = [r for r in self.valid if r.sponsor == sponsor]
        pending: list[tuple[Rec, dict[str, object]]] = []
        history: list[Rec] = []
        checked: set[object] = set()
        for day in self.days:
            today = [r for r in mine if r.bd == day]
            pending = self._run(day, today, pending, history, checked)
            history += [r for r in today if _key(r) not in self.dups]

    def _run(self, day: date, today: list[Rec], pending: list[tuple[Rec, dict[str, object]]],
             history: list[Rec], checked: set[object]) -> list[tuple[Rec, dict[str, object]]]:
        carried = {_key(r): b for r, b in pending}
        cands = sorted([r for r, _ in pending] + today, key=lambda r: (r.bd, r.line))
        fin = [r for r in cands if r.side == "PLATFORM" or r.resp in ("0000", "0001", "")]
        seen: set[tuple[str, str, str]] = set()
        live = []
        for r in fin:  # 1. duplicates
            k = (r.side, r.txn, r.conf)
            if r.conf and k in seen:
                self.dups.add(_key(r))
                self._raise("DUPLICATE", r.side, r)
                continue
            seen.add(k)
            live.append(r)
        plat = [r for r in live if r.side == "PLATFORM"]
        part = [r for r in live if r.side == "PARTNER"]
        by_conf = {(r.txn, r.conf): r for r in plat}
        pairs: list[tuple[Rec, Rec, str]] = []
        used: set[tuple[object, ...]] = set()
        for q in part:  # 2. key match
            p = by_conf.get((q.txn, q.conf)) if q.conf and q.resp else None
            if p is not None and _key(p) not in used:
                pairs.append((q, p, "KEY"))
                used |= {_key(p), _key(q)}
        for q in part:  # 3. fallback
            if q.conf:
                continue
            options = [p for p in plat if _key(p) not in used and (p.txn, p.store, p.device, p.trace)
                       == (q.txn, q.store, q.device, q.trace) and abs(p.ts - q.pts) <= TOL]
            if options:
                p = min(options, key=lambda p: (abs(p.ts - q.pts), p.bd, p.line))
                pairs.append((q, p, "FALLBACK"))
                used |= {_key(p), _key(q)}
        refunds = defaultdict(list)
        for p in plat:
            if p.origin == "SYSTEM" and _key(p) not in used:
                refunds[p.orig].append(p)
        settled: set[tuple[object, ...]] = set()
        events: list[Rec] = []
        unmatched: list[Rec] = []

        def settle(p: Rec) -> bool:
            free = [x for x in refunds.get(p.conf, []) if _key(x) not in settled]
            if p.txn != "REDEEM" or not free:
                return False
            settled.update({_key(p), _key(free[0])})
            events.append(free[0])
            return True

        for q, p, rule in pairs:
            events.append(p)
            if q.resp == "":  # 4. unknown outcome
                if not settle(p):
                    unmatched.append(p)
                continue
            if (q.units, q.miles, q.cents) != (p.units, p.miles, p.cents):  # 6.
                self._raise("AMOUNT_MISMATCH", "BOTH", p, bd=min(p.bd, q.bd))
            if rule == "KEY" and abs(q.pts - p.ts) > TOL:
                self._raise("TIMESTAMP_DRIFT", "BOTH", p, bd=min(p.bd, q.bd))
            for r in (p, q):
                if _key(r) in carried:
                    carried.pop(_key(r))["expected_status"] = "RESOLVED"
        for p in plat:  # 5. auto-refunds without a partner record, 7. unmatched platform
            if _key(p) not in used and _key(p) not in settled and p.origin != "SYSTEM":
                events.append(p)
                if not settle(p):
                    unmatched.append(p)
        for p in plat:
            if p.origin == "SYSTEM" and _key(p) not in settled and _key(p) not in used:
                events.append(p)
                unmatched.append(p)
        for q in part:
            if _key(q) not in used and q.resp:
                events.append(q)
                unmatched.append(q)
        for settled_key in settled:
            if settled_key in carried:
                carried.pop(settled_key)["expected_status"] = "RESOLVED"
        self._checks(events, live, history, checked)
        still = []
        for r in unmatched:
            if _key(r) in carried:
                carried.pop(_key(r))["expected_status"] = "OPEN"
                continue
            if _key(r) in settled:
                continue
            kind = "MISSING_ON_PLATFORM" if r.side == "PARTNER" else "MISSING_AT_PARTNER"
            self._raise(kind, r.side, r, "PENDING")
            still.append((r, (kind, *_key(r))))
        return [(r, self.breaks[k]) for r, k in still]

    def _checks(self, events: list[Rec], live: list[Rec], history: list[Rec],
                checked: set[object]) -> None:
        pool = [r for r in live + history if r.successful]
        for r in events:  # 8. reversals, 9. conversion
            ident = (r.txn, r.conf) if r.conf else _key(r)
            if ident in checked:
                continue
            checked.add(ident)
            if r.miles != r.units * 95 or r.cents != r.units * 1000:
                self._raise("CONVERSION_ERROR", r.side, r)
            if r.txn != "REVERSE":
                continue
            same = [x for x in pool if x.side == r.side]
            redeem = next((x for x in same if x.txn == "REDEEM" and x.conf == r.orig), None)
            if redeem is None:
                self._raise("ORPHAN_REVERSAL", r.side, r)
                continue
            deadline = _start(redeem.bd + timedelta(days=1), 3)
            if r.origin != "SYSTEM" and r.ts > deadline:
                self._raise("LATE_REVERSAL", r.side, r)
            order = (r.ts, r.bd, r.line)
            if any(x.txn == "REVERSE" and x.orig == r.orig and (x.ts, x.bd, x.line) < order
                   for x in same):
                self._raise("DOUBLE_REVERSAL", r.side, r)
            if r.miles != redeem.miles:
                self._raise("REVERSAL_MISMATCH", r.side, r)

    def _limit(self) -> None:
        plat = [r for r in self.valid if r.side == "PLATFORM" and _key(r) not in self.dups]
        redeems = {r.conf: r for r in plat if r.txn == "REDEEM"}
        for day in self.days[:-1]:
            lo, hi = _start(day, 3), _start(day + timedelta(days=1), 3)
            flows = defaultdict(list)
            for r in plat:
                base = redeems.get(r.orig) if r.txn == "REVERSE" else r
                if base is not None and lo <= base.ts < hi:
                    flows[r.collector].append((r.ts, r.cents if r.txn == "REDEEM" else -r.cents, r))
            for collector, moves in flows.items():
                total = 0
                for _, cents, r in sorted(moves, key=lambda m: (m[0], m[2].line)):
                    total += cents
                    if cents > 0 and total > LIMIT_CENTS:
                        self._raise("DAILY_LIMIT_EXCEEDED", "PLATFORM", r, bd=r.bd,
                                    key=("LIMIT", collector, day))
                        break
