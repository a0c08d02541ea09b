DROP TABLE account_setups;
