/** Valid values of CLI options that name catalog entries (number formats), for option tables and their errors. */
import { NUMBER_FORMATS, getNumberFormat } from '../core';

/** Every number-format id (the table's ids; aliases are accepted too). */
export const formatIds = (): readonly string[] => NUMBER_FORMATS.map((f) => f.id);

/** True when `value` names a number format by id or alias. */
export const isFormat = (value: string): boolean => getNumberFormat(value) !== undefined;
