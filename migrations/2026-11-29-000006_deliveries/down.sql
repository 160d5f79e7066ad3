DROP TABLE hosts;
DROP TABLE deliveries;
