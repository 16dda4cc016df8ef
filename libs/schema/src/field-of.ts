import type { DataType, FieldSchema } from './types';

/** Builds a FieldSchema with the usual defaults (not primary, not nullable…). */
export function fieldOf(
  name: string,
  dataType: DataType,
  opts: Partial<Omit<FieldSchema, 'name' | 'dataType'>> = {},
): FieldSchema {
  return {
    name,
    dataType,
    isPrimary: false,
    autoId: false,
    isPartitionKey: false,
    isClusteringKey: false,
    nullable: false,
    description: '',
    ...opts,
  };
}
