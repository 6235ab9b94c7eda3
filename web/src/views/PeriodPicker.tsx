/** The Dashboard's period: radio buttons (arrow keys move between them, as in any radio group). */
import { PERIODS, type Period } from '../lib/stats.js';

export function PeriodPicker({ value, onChange }: { value: Period; onChange: (p: Period) => void }) {
  return (
    <fieldset className="period">
      <legend>Period</legend>
      {PERIODS.map((p) => (
        <label key={p} className="period-option">
          <input type="radio" name="period" value={p} checked={value === p} onChange={() => onChange(p)} />
          {p} days
        </label>
      ))}
    </fieldset>
  );
}
