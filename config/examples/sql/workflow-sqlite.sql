-- An example workflow system's customer tables, for SQLite, holding the seed
-- scenario (config/examples/seed-scenario.json). portal-sync reads them with
-- queries.toml; docs/sources.md explains how. Load with:
--   sqlite3 workflow.db < workflow-sqlite.sql
-- Every table keeps when a row last changed (changed_at, set by a trigger), which
-- the change query of queries.toml polls.

PRAGMA foreign_keys = ON;

CREATE TABLE company (
    company_no    VARCHAR(20)  PRIMARY KEY,
    company_name  VARCHAR(200) NOT NULL,
    short_name    VARCHAR(40),
    portal_access BOOLEAN      NOT NULL DEFAULT FALSE,
    is_agency     BOOLEAN      NOT NULL DEFAULT FALSE,
    changed_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE company_department (
    company_no VARCHAR(20)  NOT NULL REFERENCES company (company_no),
    dept_code  VARCHAR(40)  NOT NULL,
    dept_label VARCHAR(100),
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (company_no, dept_code)
);

CREATE TABLE contact (
    contact_no    VARCHAR(20)  PRIMARY KEY,
    company_no    VARCHAR(20)  NOT NULL REFERENCES company (company_no),
    given_name    VARCHAR(100),
    family_name   VARCHAR(100),
    email_address VARCHAR(200),
    phone_office  VARCHAR(40),
    phone_mobile  VARCHAR(40),
    fax_no        VARCHAR(40),
    homepage      VARCHAR(200),
    changed_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE contact_department (
    contact_no VARCHAR(20) NOT NULL REFERENCES contact (contact_no),
    company_no VARCHAR(20) NOT NULL,
    dept_code  VARCHAR(40) NOT NULL,
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (contact_no, dept_code),
    FOREIGN KEY (company_no, dept_code) REFERENCES company_department (company_no, dept_code)
);

CREATE TABLE web_login (
    contact_no    VARCHAR(20)  PRIMARY KEY REFERENCES contact (contact_no),
    user_name     VARCHAR(100) NOT NULL,
    active        BOOLEAN      NOT NULL DEFAULT TRUE,
    password_hash VARCHAR(400),
    changed_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE employee (
    employee_no   VARCHAR(20)  PRIMARY KEY,
    user_name     VARCHAR(100) NOT NULL,
    given_name    VARCHAR(100),
    family_name   VARCHAR(100),
    email_address VARCHAR(200),
    phone_ext     VARCHAR(40),
    active        BOOLEAN      NOT NULL DEFAULT TRUE,
    password_hash VARCHAR(400),
    changed_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TABLE employee_role (
    employee_no VARCHAR(20)  NOT NULL REFERENCES employee (employee_no),
    role_name   VARCHAR(100) NOT NULL,
    changed_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')),
    PRIMARY KEY (employee_no, role_name)
);

CREATE TABLE job (
    job_no     VARCHAR(40)  PRIMARY KEY,
    job_title  VARCHAR(200),
    company_no VARCHAR(20)  NOT NULL REFERENCES company (company_no),
    agency_no  VARCHAR(20)  REFERENCES company (company_no),
    on_portal  BOOLEAN      NOT NULL DEFAULT FALSE,
    changed_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

CREATE TRIGGER company_touch AFTER UPDATE ON company FOR EACH ROW
BEGIN
    UPDATE company SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER company_department_touch AFTER UPDATE ON company_department FOR EACH ROW
BEGIN
    UPDATE company_department SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER contact_touch AFTER UPDATE ON contact FOR EACH ROW
BEGIN
    UPDATE contact SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER contact_department_touch AFTER UPDATE ON contact_department FOR EACH ROW
BEGIN
    UPDATE contact_department SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER web_login_touch AFTER UPDATE ON web_login FOR EACH ROW
BEGIN
    UPDATE web_login SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER employee_touch AFTER UPDATE ON employee FOR EACH ROW
BEGIN
    UPDATE employee SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER employee_role_touch AFTER UPDATE ON employee_role FOR EACH ROW
BEGIN
    UPDATE employee_role SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER job_touch AFTER UPDATE ON job FOR EACH ROW
BEGIN
    UPDATE job SET changed_at = strftime('%Y-%m-%d %H:%M:%f', 'now') WHERE rowid = NEW.rowid;
END;

INSERT INTO company (company_no, company_name, short_name, portal_access, is_agency) VALUES
    ('10001', 'Éditions Lumière', 'LUMIERE', TRUE, FALSE),
    ('10002', 'Agência Criativa Lda', 'CRIATIVA', TRUE, TRUE),
    ('10003', 'Weingut Sonnenhang GmbH', 'SONNENHANG', TRUE, FALSE),
    ('10004', 'Boulangerie Bernard', 'BERNARD', FALSE, FALSE);

INSERT INTO company_department (company_no, dept_code, dept_label) VALUES
    ('10001', 'customer', 'Client'),
    ('10001', 'ct-achats', 'Achats'),
    ('10001', 'ct-compta', 'Comptabilité'),
    ('10001', 'ct-fab', 'Fabrication'),
    ('10002', 'customer', 'Cliente'),
    ('10002', 'ct-design', 'Design'),
    ('10003', 'customer', 'Customer'),
    ('10004', 'customer', 'Client');

INSERT INTO contact (contact_no, company_no, given_name, family_name, email_address, phone_office, phone_mobile, fax_no, homepage) VALUES
    ('P-1', '10001', 'Claire', 'Dubois', 'claire.dubois@lumiere.example', '+33 1 23 45 67 89', NULL, NULL, NULL),
    ('P-2', '10001', 'Marc', 'Lefèvre', 'marc.lefevre@lumiere.example', NULL, NULL, NULL, NULL),
    ('P-3', '10001', 'Sophie', 'Martin', 'sophie.martin@lumiere.example', NULL, NULL, NULL, NULL),
    ('P-4', '10001', 'Jean', 'Petit', 'jean.petit@lumiere.example', NULL, NULL, NULL, NULL),
    ('P-10', '10002', 'João', 'Silva', 'joao.silva@criativa.example', NULL, NULL, NULL, NULL),
    ('P-11', '10002', 'Ana', 'Costa', 'ana.costa@criativa.example', NULL, NULL, NULL, NULL),
    ('P-20', '10003', 'Peter', 'Braun', 'peter.braun@sonnenhang.example', NULL, NULL, NULL, NULL),
    ('P-30', '10004', 'Luc', 'Bernard', 'luc.bernard@bernard.example', NULL, NULL, NULL, NULL);

INSERT INTO contact_department (contact_no, company_no, dept_code) VALUES
    ('P-1', '10001', 'customer'),
    ('P-2', '10001', 'ct-achats'),
    ('P-3', '10001', 'ct-achats'),
    ('P-3', '10001', 'ct-compta'),
    ('P-4', '10001', 'ct-achats'),
    ('P-10', '10002', 'customer'),
    ('P-11', '10002', 'ct-design'),
    ('P-20', '10003', 'customer'),
    ('P-30', '10004', 'customer');

INSERT INTO web_login (contact_no, user_name, active, password_hash) VALUES
    ('P-1', 'cdubois', TRUE, NULL),
    ('P-2', 'mlefevre', TRUE, NULL),
    ('P-3', 'smartin', TRUE, NULL),
    ('P-10', 'jsilva', TRUE, NULL),
    ('P-11', 'acosta', TRUE, NULL),
    ('P-20', 'pbraun', TRUE, NULL),
    ('P-30', 'lbernard', TRUE, NULL);

INSERT INTO employee (employee_no, user_name, given_name, family_name, email_address, phone_ext, active, password_hash) VALUES
    ('U-1', 'anna.schmidt', 'Anna', 'Schmidt', 'anna.schmidt@druckerei.example', NULL, TRUE, NULL),
    ('U-2', 'tom.weber', 'Tom', 'Weber', 'tom.weber@druckerei.example', NULL, TRUE, NULL),
    ('U-3', 'admin.print', 'Admin', 'Print', 'it@druckerei.example', NULL, TRUE, NULL);

INSERT INTO employee_role (employee_no, role_name) VALUES
    ('U-1', 'Prepress'),
    ('U-2', 'Customer Sales Representatives'),
    ('U-3', 'Administrators'),
    ('U-3', 'Prepress');

INSERT INTO job (job_no, job_title, company_no, agency_no, on_portal) VALUES
    ('_20261120_001', 'Catalogue printemps', '10001', '10002', TRUE),
    ('_20261120_002', 'Portfolio 2027', '10002', NULL, TRUE),
    ('_20261121_003', 'Etiketten Riesling', '10003', '10002', TRUE),
    ('_20261121_004', 'Preisliste intern', '10003', NULL, FALSE),
    ('RA_4726', 'Flyer salon', '10001', NULL, TRUE),
    ('_20261122_005', 'Menu board', '10004', NULL, TRUE);
